package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SaveOptions refine Save.
type SaveOptions struct {
	// IfMatch, when non-zero, makes the save fail with ErrStale unless the
	// server's current version is this one.
	IfMatch int64
}

// SaveResult is the server's record of a save.
type SaveResult struct {
	UpdatedAt time.Time
	Version   int64
}

// GetOptions refine Get.
type GetOptions struct {
	// Version selects an older version; zero means the newest.
	Version int64

	// IfNoneMatch, when non-zero, lets the server answer "not modified"
	// instead of sending a version that the caller already has.
	IfNoneMatch int64
}

// Backup is a stored backup as the server returns it.
type Backup struct {
	// NotModified reports that the server confirmed GetOptions.IfNoneMatch
	// as current; every other field is then empty.
	NotModified bool

	Data      string // sealed; see Open
	UpdatedAt time.Time
	Version   int64
}

// VersionInfo describes one kept version of a backup.
type VersionInfo struct {
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
	Size      int64     `json:"size"`
}

// ActivityType names what happened to an account.
type ActivityType string

// The kinds of activity the server records.
const (
	ActivitySaved          ActivityType = "saved"
	ActivityRestored       ActivityType = "restored"
	ActivityFailedAttempt  ActivityType = "failed_attempt"
	ActivityDeletedVersion ActivityType = "deleted_version"
)

// ActivityEvent counts the events of one type within one minute.
type ActivityEvent struct {
	Type  ActivityType `json:"type"`
	At    time.Time    `json:"at"`
	Count int          `json:"count"`
}

// Usage is an account's share of the server's storage.
type Usage struct {
	BytesUsed  int64 `json:"bytesUsed"`
	QuotaBytes int64 `json:"quotaBytes"`
	Backups    int   `json:"backups"`
	Versions   int   `json:"versions"`
}

// Register creates an account. inviteCode is sent only when non-empty, for
// servers whose registration is by invite.
func (c *Client) Register(ctx context.Context, userID, inviteCode string) error {
	r := call{
		method: http.MethodPost,
		path:   "/api/register",
		body: struct {
			UserID string `json:"userId"`
		}{userID},
	}
	if inviteCode != "" {
		r.header = http.Header{"X-Invite-Code": {inviteCode}}
	}
	_, err := c.send(ctx, r)
	return err
}

// Save stores sealed data as the account's newest backup.
func (c *Client) Save(ctx context.Context, creds Credentials, data string, opts SaveOptions) (SaveResult, error) {
	r := call{
		method: http.MethodPost,
		path:   "/api/backup",
		body: struct {
			UserID     string `json:"userId"`
			StorageKey string `json:"storageKey"`
			Data       string `json:"data"`
		}{creds.UserID, creds.StorageKey, data},
	}
	if opts.IfMatch != 0 {
		r.header = http.Header{"If-Match": {etag(opts.IfMatch)}}
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return SaveResult{}, err
	}
	var result SaveResult
	err = decode(r, resp, &struct {
		UpdatedAt *time.Time `json:"updatedAt"`
		Version   *int64     `json:"version"`
	}{&result.UpdatedAt, &result.Version})
	return result, err
}

// Get fetches the newest backup, or the version that opts selects.
func (c *Client) Get(ctx context.Context, creds Credentials, opts GetOptions) (Backup, error) {
	query := credentialsQuery(creds)
	if opts.Version != 0 {
		query.Set("version", strconv.FormatInt(opts.Version, 10))
	}
	r := call{method: http.MethodGet, path: "/api/backup", query: query, wantCodes: []int{http.StatusNotModified}}
	if opts.IfNoneMatch != 0 {
		r.header = http.Header{"If-None-Match": {etag(opts.IfNoneMatch)}}
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return Backup{}, err
	}
	if resp.status == http.StatusNotModified {
		return Backup{NotModified: true}, nil
	}
	var backup Backup
	err = decode(r, resp, &struct {
		Data      *string    `json:"data"`
		UpdatedAt *time.Time `json:"updatedAt"`
		Version   *int64     `json:"version"`
	}{&backup.Data, &backup.UpdatedAt, &backup.Version})
	return backup, err
}

// Versions lists the kept versions of the backup, newest first.
func (c *Client) Versions(ctx context.Context, creds Credentials) ([]VersionInfo, error) {
	var out struct {
		Versions []VersionInfo `json:"versions"`
	}
	err := c.getJSON(ctx, "/api/backup/versions", credentialsQuery(creds), &out)
	return out.Versions, err
}

// Activity lists what happened to the account recently, newest first.
func (c *Client) Activity(ctx context.Context, creds Credentials) ([]ActivityEvent, error) {
	var out struct {
		Events []ActivityEvent `json:"events"`
	}
	err := c.getJSON(ctx, "/api/backup/activity", credentialsQuery(creds), &out)
	return out.Events, err
}

// Usage reports the account's storage use against its quota.
func (c *Client) Usage(ctx context.Context, creds Credentials) (Usage, error) {
	var out Usage
	err := c.getJSON(ctx, "/api/usage", credentialsQuery(creds), &out)
	return out, err
}

// Delete removes the account and all its backups.
func (c *Client) Delete(ctx context.Context, creds Credentials) error {
	_, err := c.send(ctx, call{
		method: http.MethodDelete,
		path:   "/api/user",
		body: struct {
			UserID     string `json:"userId"`
			StorageKey string `json:"storageKey"`
		}{creds.UserID, creds.StorageKey},
	})
	return err
}

// Info fetches the server's public settings.
func (c *Client) Info(ctx context.Context) (ServerInfo, error) {
	var out ServerInfo
	err := c.getJSON(ctx, "/api/info", nil, &out, unsigned)
	return out, err
}

// Health reports nil when the server is ready, or an *APIError matching
// ErrUnavailable when it says it is not.
func (c *Client) Health(ctx context.Context) error {
	var out struct {
		Status string `json:"status"`
	}
	if err := c.getJSON(ctx, "/health", nil, &out, unsigned); err != nil {
		return err
	}
	if out.Status != "ok" {
		return fmt.Errorf("client: GET /health: status %q", out.Status)
	}
	return nil
}

type callOption func(*call)

func unsigned(r *call) { r.unsigned = true }

func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any, opts ...callOption) error {
	r := call{method: http.MethodGet, path: path, query: query}
	for _, opt := range opts {
		opt(&r)
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	return decode(r, resp, out)
}

func credentialsQuery(creds Credentials) url.Values {
	return url.Values{"userId": {creds.UserID}, "storageKey": {creds.StorageKey}}
}
