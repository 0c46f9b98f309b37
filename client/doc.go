// Package client is the Go side of the DailyReps backup protocol: it derives
// the ids and the encryption key from a username and password exactly as the
// web app does, seals and opens backups, signs requests, and talks to the
// backup server's HTTP API.
//
// The server only ever sees userId, storageKey and sealed data; the password
// and the encryption key never leave this package's caller.
package client
