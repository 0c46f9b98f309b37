package client

import (
	"context"
	"errors"
	"unicode/utf8"
)

// Account works with one user's backups in plaintext, sealing and opening
// them with the user's key.
type Account struct {
	client *Client
	id     Identity
}

// NewAccount derives the account's ids and key, which takes a noticeable
// fraction of a second by design.
func NewAccount(c *Client, username, password string) (*Account, error) {
	if username == "" {
		return nil, errors.New("client: username is empty")
	}
	if !utf8.ValidString(username) {
		// The web app only ever sees Unicode text: a name in another
		// encoding (a terminal not set to UTF-8) would be a different account.
		return nil, errors.New("client: username is not valid UTF-8")
	}
	id, err := Derive(username, password)
	if err != nil {
		return nil, err
	}
	return NewAccountWithIdentity(c, id), nil
}

// NewAccountWithIdentity skips the key derivation, for callers that derived
// the identity already (tests, benchmarks, long-running tools).
func NewAccountWithIdentity(c *Client, id Identity) *Account {
	return &Account{client: c, id: id}
}

// UserID returns the id under which the server knows the account.
func (a *Account) UserID() string { return a.id.Credentials.UserID }

// Register creates the account on the server; see Client.Register.
func (a *Account) Register(ctx context.Context, inviteCode string) error {
	return a.client.Register(ctx, a.id.Credentials.UserID, inviteCode)
}

// SaveDocument seals plaintext and stores it as the newest backup.
func (a *Account) SaveDocument(ctx context.Context, plaintext []byte) (SaveResult, error) {
	data, err := Seal(a.id.EncryptionKey, plaintext)
	if err != nil {
		return SaveResult{}, err
	}
	return a.client.Save(ctx, a.id.Credentials, data, SaveOptions{})
}

// RestoreDocument fetches and opens the newest backup.
func (a *Account) RestoreDocument(ctx context.Context) ([]byte, error) {
	return a.RestoreVersion(ctx, 0)
}

// RestoreVersion fetches and opens one kept version; zero means the newest.
func (a *Account) RestoreVersion(ctx context.Context, version int64) ([]byte, error) {
	backup, err := a.client.Get(ctx, a.id.Credentials, GetOptions{Version: version})
	if err != nil {
		return nil, err
	}
	return Open(a.id.EncryptionKey, backup.Data)
}

// Versions lists the kept versions, newest first.
func (a *Account) Versions(ctx context.Context) ([]VersionInfo, error) {
	return a.client.Versions(ctx, a.id.Credentials)
}

// Activity lists what happened to the account recently, newest first.
func (a *Account) Activity(ctx context.Context) ([]ActivityEvent, error) {
	return a.client.Activity(ctx, a.id.Credentials)
}

// Usage reports the account's storage use against its quota.
func (a *Account) Usage(ctx context.Context) (Usage, error) {
	return a.client.Usage(ctx, a.id.Credentials)
}

// Delete removes the account and all its backups from the server.
func (a *Account) Delete(ctx context.Context) error {
	return a.client.Delete(ctx, a.id.Credentials)
}
