// Package client is the Go side of the DailyReps backup protocol: it derives
// the ids and the encryption key from a username and password exactly as the
// web app does, seals and opens backups, signs requests, and talks to the
// backup server's HTTP API.
//
// The server only ever sees userId, storageKey and sealed data; the password
// and the encryption key never leave this package's caller.
//
// Protocol v2 (docs/protocol-v2.md) is reached through a Session, from
// Client.RegisterV2, LoginV2, RecoverV2 or UpgradeV1: the server sees an
// authentication key derived after one full PBKDF2 and never the password,
// the backups are sealed under a random data key bound to their account,
// backup and version, and a SeenStore remembers the newest version seen so
// that a rollback is noticed.
package client
