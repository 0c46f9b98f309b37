package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// This file holds the raw protocol v2 requests (docs/protocol-v2.md, "Wire
// format"); v2_session.go builds the flows on them.

// KDF is an account's slow-step parameters as the server keeps them.
type KDF struct {
	Name       string `json:"name"`
	Iterations int    `json:"iterations"`
	Salt       string `json:"salt"` // standard base64 of 16 bytes
}

// KDFName is the only slow step protocol v2 defines.
const KDFName = "PBKDF2-SHA256"

// newKeys is the "new" member: a password's key material.
type newKeys struct {
	KDF        KDF    `json:"kdf"`
	Auth       string `json:"auth"`
	WrappedKey string `json:"wrappedKey"`
}

// recoveryKeys is the "recovery" member: a recovery code's key material.
type recoveryKeys struct {
	RecoveryAuth       string `json:"recoveryAuth"`
	RecoveryWrappedKey string `json:"recoveryWrappedKey"`
}

type registerRequest struct {
	AccountID string `json:"accountId"`
	newKeys
	recoveryKeys
}

type upgradeRequest struct {
	UserID           string `json:"userId"`
	StorageKey       string `json:"storageKey"`
	BackupID         string `json:"backupId"`
	WrappedLegacyKey string `json:"wrappedLegacyKey"`
	newKeys
	recoveryKeys
}

// sessionGrant is the answer of every call that starts a session.
type sessionGrant struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type loginGrant struct {
	sessionGrant
	WrappedKey string `json:"wrappedKey"`
	KDFUpgrade *struct {
		Iterations int `json:"iterations"`
	} `json:"kdfUpgrade"`
}

// BackupSummary is one backup of an account, as listed.
type BackupSummary struct {
	ID        string    `json:"id"`
	Version   int64     `json:"version"`
	Size      int64     `json:"size"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// AccountInfo is a v2 account's use of the server and its recent activity.
type AccountInfo struct {
	Usage
	Events []ActivityEvent `json:"events"`
}

// storedVersion is a GET of one backup version.
type storedVersion struct {
	Data             string    `json:"data"`
	Version          int64     `json:"version"`
	UpdatedAt        time.Time `json:"updatedAt"`
	WrappedLegacyKey string    `json:"wrappedLegacyKey"`
}

// v2Info is the part of /api/info that protocol v2 adds.
type v2Info struct {
	Protocols []string `json:"protocols"`
	KDF       *struct {
		Name          string `json:"name"`
		Iterations    int    `json:"iterations"`
		MinIterations int    `json:"minIterations"`
	} `json:"kdf"`
}

// v2Call is one request under /api/v2. token, when set, is sent as the
// bearer of a session.
func (c *Client) v2Call(ctx context.Context, method, path, token string, body, out any, opts ...callOption) (*response, error) {
	r := call{method: method, path: "/api/v2" + path, body: body}
	if token != "" {
		r.header = http.Header{"Authorization": {"Bearer " + token}}
	}
	for _, opt := range opts {
		opt(&r)
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, classifyV2(err, token != "")
	}
	if out != nil {
		if err := decode(r, resp, out); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func (c *Client) v2Info(ctx context.Context) (v2Info, error) {
	var out v2Info
	err := c.getJSON(ctx, "/api/info", nil, &out, unsigned)
	return out, err
}

func (c *Client) prelogin(ctx context.Context, accountID string) (KDF, error) {
	var out struct {
		KDF KDF `json:"kdf"`
	}
	_, err := c.v2Call(ctx, http.MethodPost, "/prelogin", "", struct {
		AccountID string `json:"accountId"`
	}{accountID}, &out)
	return out.KDF, err
}

func (c *Client) register(ctx context.Context, req registerRequest, invite string) (sessionGrant, error) {
	var out sessionGrant
	var opts []callOption
	if invite != "" {
		opts = append(opts, func(r *call) { r.header = http.Header{"X-Invite-Code": {invite}} })
	}
	_, err := c.v2Call(ctx, http.MethodPost, "/register", "", req, &out, opts...)
	return out, err
}

func (c *Client) login(ctx context.Context, accountID, auth string) (loginGrant, error) {
	var out loginGrant
	_, err := c.v2Call(ctx, http.MethodPost, "/login", "", struct {
		AccountID string `json:"accountId"`
		Auth      string `json:"auth"`
	}{accountID, auth}, &out)
	return out, err
}

func (c *Client) changePassword(ctx context.Context, token, auth string, next newKeys) (sessionGrant, error) {
	var out sessionGrant
	_, err := c.v2Call(ctx, http.MethodPost, "/password", token, struct {
		Auth string  `json:"auth"`
		New  newKeys `json:"new"`
	}{auth, next}, &out)
	return out, err
}

func (c *Client) recoveryWrappedKey(ctx context.Context, accountID, recoveryAuth string) (string, error) {
	var out struct {
		RecoveryWrappedKey string `json:"recoveryWrappedKey"`
	}
	_, err := c.v2Call(ctx, http.MethodPost, "/recover/key", "", struct {
		AccountID    string `json:"accountId"`
		RecoveryAuth string `json:"recoveryAuth"`
	}{accountID, recoveryAuth}, &out)
	return out.RecoveryWrappedKey, err
}

func (c *Client) recover(ctx context.Context, accountID, recoveryAuth string, next newKeys, recovery recoveryKeys) (sessionGrant, error) {
	var out sessionGrant
	_, err := c.v2Call(ctx, http.MethodPost, "/recover", "", struct {
		AccountID    string       `json:"accountId"`
		RecoveryAuth string       `json:"recoveryAuth"`
		New          newKeys      `json:"new"`
		Recovery     recoveryKeys `json:"recovery"`
	}{accountID, recoveryAuth, next, recovery}, &out)
	return out, err
}

func (c *Client) upgrade(ctx context.Context, req upgradeRequest) (sessionGrant, error) {
	var out sessionGrant
	_, err := c.v2Call(ctx, http.MethodPost, "/upgrade", "", req, &out)
	return out, err
}

func (c *Client) putVersion(ctx context.Context, token, backupID string, version int64, data string) (SaveResult, error) {
	var out SaveResult
	_, err := c.v2Call(ctx, http.MethodPut, "/backups/"+url.PathEscape(backupID), token, struct {
		Version int64  `json:"version"`
		Data    string `json:"data"`
	}{version, data}, &struct {
		UpdatedAt *time.Time `json:"updatedAt"`
		Version   *int64     `json:"version"`
	}{&out.UpdatedAt, &out.Version})
	return out, err
}

// getVersion fetches a version; zero means the newest.
func (c *Client) getVersion(ctx context.Context, token, backupID string, version int64) (storedVersion, error) {
	var v storedVersion
	var opts []callOption
	if version != 0 {
		opts = append(opts, func(r *call) { r.query = url.Values{"version": {strconv.FormatInt(version, 10)}} })
	}
	_, err := c.v2Call(ctx, http.MethodGet, "/backups/"+url.PathEscape(backupID), token, nil, &v, opts...)
	return v, err
}
