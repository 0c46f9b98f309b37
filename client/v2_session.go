package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/dailyreps/backup/client/v2crypto"
)

// V2Options refine the protocol v2 flows.
type V2Options struct {
	// InviteCode is sent with a registration when non-empty.
	InviteCode string

	// Iterations for new key material (registration, password change,
	// recovery, upgrade); zero takes the server's setting from /api/info,
	// never less than v2crypto.MinIterations.
	Iterations int

	// Seen remembers the newest version seen of each backup; nil keeps it
	// in memory for the life of the session only.
	Seen SeenStore

	// ConfirmRecoveryCode, when set, is shown a new recovery code by
	// RegisterV2 and RecoverV2 before anything is sent: an error stops the
	// flow with nothing changed, so a person who did not keep the code
	// loses nothing.
	ConfirmRecoveryCode func(code string) error
}

func (o V2Options) confirm(code string) error {
	if o.ConfirmRecoveryCode == nil {
		return nil
	}
	return o.ConfirmRecoveryCode(code)
}

// ErrNoV2 means the server does not list protocol v2 in /api/info.
var ErrNoV2 = errors.New("client: the server does not speak protocol v2")

// ErrLocked means a session resumed without its password tried to seal or
// open a backup.
var ErrLocked = errors.New("client: the session has no data key: unlock it with the password")

// Session is a signed-in protocol v2 account. It holds the data key in
// memory; nothing it keeps decrypts anything once the process ends.
type Session struct {
	client    *Client
	accountID string
	token     string
	expiresAt time.Time
	// kdf and wrappedKey are the account's current password material,
	// which lets a saved session be unlocked again without a login.
	kdf        KDF
	wrappedKey string
	dataKey    []byte
	opts       V2Options
}

// SessionState is what a client may keep between runs: the session token
// (a bearer secret for an hour), and the password material a database
// thief would have anyway. None of it decrypts without the password.
type SessionState struct {
	AccountID  string    `json:"accountId"`
	Token      string    `json:"token"`
	ExpiresAt  time.Time `json:"expiresAt"`
	KDF        KDF       `json:"kdf"`
	WrappedKey string    `json:"wrappedKey"`
}

// State returns what ResumeV2 needs to continue this session later.
func (s *Session) State() SessionState {
	return SessionState{AccountID: s.accountID, Token: s.token, ExpiresAt: s.expiresAt, KDF: s.kdf, WrappedKey: s.wrappedKey}
}

// AccountID is the account's id (the v1 userId of its username).
func (s *Session) AccountID() string { return s.accountID }

// ExpiresAt is when the server ends the session.
func (s *Session) ExpiresAt() time.Time { return s.expiresAt }

func (c *Client) newSession(accountID string, grant sessionGrant, kdf KDF, wrappedKey string, dataKey []byte, opts V2Options) *Session {
	if opts.Seen == nil {
		opts.Seen = &MemorySeenStore{}
	}
	return &Session{client: c, accountID: accountID, token: grant.Token, expiresAt: grant.ExpiresAt,
		kdf: kdf, wrappedKey: wrappedKey, dataKey: dataKey, opts: opts}
}

// ResumeV2 continues a saved session without a request. It cannot seal or
// open backups until Unlock; the server decides whether the token is live.
func (c *Client) ResumeV2(state SessionState, opts V2Options) *Session {
	return c.newSession(state.AccountID, sessionGrant{Token: state.Token, ExpiresAt: state.ExpiresAt}, state.KDF, state.WrappedKey, nil, opts)
}

// Unlock derives the password's keys with the saved material and unwraps
// the data key: one slow step, no request. A wrong password gives
// ErrWrongPassword.
func (s *Session) Unlock(password string) error {
	_, wrapKey, err := deriveV2(password, s.kdf)
	if err != nil {
		return err
	}
	dataKey, err := unwrapKey(wrapKey, s.wrappedKey, v2crypto.LabelDataKey, s.accountID)
	if err != nil {
		return ErrWrongPassword
	}
	s.dataKey = dataKey
	return nil
}

// iterations picks the count for new key material.
func (c *Client) iterations(ctx context.Context, opts V2Options) (int, error) {
	if opts.Iterations != 0 {
		if opts.Iterations < v2crypto.MinIterations {
			return 0, fmt.Errorf("client: %d iterations is below the protocol's floor of %d", opts.Iterations, v2crypto.MinIterations)
		}
		return opts.Iterations, nil
	}
	info, err := c.v2Info(ctx)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(info.Protocols, "v2") {
		return 0, ErrNoV2
	}
	if info.KDF != nil && info.KDF.Iterations > v2crypto.MinIterations {
		return info.KDF.Iterations, nil
	}
	return v2crypto.MinIterations, nil
}

// RegisterV2 creates a protocol v2 account and signs in. The recovery code
// it returns is the only way back into the account without the password:
// show it to its owner once, and keep no copy.
func (c *Client) RegisterV2(ctx context.Context, username, password string, opts V2Options) (*Session, string, error) {
	accountID, err := v2AccountID(username)
	if err != nil {
		return nil, "", err
	}
	iterations, err := c.iterations(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	dataKey := randomBytes(v2crypto.KeySize)
	pw, code, recovery, err := newAccountMaterial(accountID, password, iterations, dataKey)
	if err != nil {
		return nil, "", err
	}
	if err := opts.confirm(code); err != nil {
		return nil, "", err
	}
	grant, err := c.register(ctx, registerRequest{AccountID: accountID, newKeys: pw.keys, recoveryKeys: recovery}, opts.InviteCode)
	if err != nil {
		return nil, "", err
	}
	return c.newSession(accountID, grant, pw.keys.KDF, pw.keys.WrappedKey, dataKey, opts), code, nil
}

// LoginV2 signs in: the account's parameters, one slow step, the login,
// and the data key unwrapped. When the server asks for more iterations, the
// password's keys are derived again with a fresh salt and replaced; a
// failure there leaves the login as it was, to be raised next time.
func (c *Client) LoginV2(ctx context.Context, username, password string, opts V2Options) (*Session, error) {
	accountID, err := v2AccountID(username)
	if err != nil {
		return nil, err
	}
	kdf, err := c.prelogin(ctx, accountID)
	if err != nil {
		return nil, err
	}
	authKey, wrapKey, err := deriveV2(password, kdf)
	if err != nil {
		return nil, err
	}
	grant, err := c.login(ctx, accountID, hex.EncodeToString(authKey))
	if err != nil {
		return nil, err
	}
	dataKey, err := unwrapKey(wrapKey, grant.WrappedKey, v2crypto.LabelDataKey, accountID)
	if err != nil {
		// The server accepted the key but sent a wrapped key that does not
		// open: it is altered or another account's.
		return nil, err
	}
	s := c.newSession(accountID, grant.sessionGrant, kdf, grant.WrappedKey, dataKey, opts)
	if up := grant.KDFUpgrade; up != nil && up.Iterations > kdf.Iterations {
		_ = s.replacePassword(ctx, hex.EncodeToString(authKey), password, up.Iterations)
	}
	return s, nil
}

// replacePassword sets new password material for the same data key; the
// server ends every other session and starts this one anew.
func (s *Session) replacePassword(ctx context.Context, currentAuth, password string, iterations int) error {
	pw, err := newPasswordMaterial(s.accountID, password, iterations, s.dataKey)
	if err != nil {
		return err
	}
	grant, err := s.client.changePassword(ctx, s.token, currentAuth, pw.keys)
	if err != nil {
		return err
	}
	s.token, s.expiresAt, s.kdf, s.wrappedKey = grant.Token, grant.ExpiresAt, pw.keys.KDF, pw.keys.WrappedKey
	return nil
}

// proveCurrent derives the current password's auth key and checks it
// locally against the wrapped data key, so that a mistyped password is told
// apart from an ended session without a request.
func (s *Session) proveCurrent(password string) (string, error) {
	authKey, wrapKey, err := deriveV2(password, s.kdf)
	if err != nil {
		return "", err
	}
	dataKey, err := unwrapKey(wrapKey, s.wrappedKey, v2crypto.LabelDataKey, s.accountID)
	if err != nil {
		return "", ErrWrongPassword
	}
	if s.dataKey == nil {
		s.dataKey = dataKey
	}
	return hex.EncodeToString(authKey), nil
}

// ChangePassword re-wraps the data key under a new password; no backup is
// uploaded again. Every other session of the account ends.
func (s *Session) ChangePassword(ctx context.Context, current, next string) error {
	auth, err := s.proveCurrent(current)
	if err != nil {
		return err
	}
	iterations, err := s.client.iterations(ctx, s.opts)
	if err != nil {
		return err
	}
	return s.replacePassword(ctx, auth, next, max(iterations, s.kdf.Iterations))
}

// RecoverV2 sets a new password with the recovery code and signs in. The
// code is used up: the new one returned replaces it.
func (c *Client) RecoverV2(ctx context.Context, username, recoveryCode, newPassword string, opts V2Options) (*Session, string, error) {
	accountID, err := v2AccountID(username)
	if err != nil {
		return nil, "", err
	}
	raw, err := v2crypto.ParseRecoveryCode(recoveryCode)
	if err != nil {
		return nil, "", fmt.Errorf("client: %w", err)
	}
	if newPassword == "" {
		return nil, "", errors.New("client: the password is empty")
	}
	rAuth, rWrap := v2crypto.RecoveryKeys(raw)
	recoveryAuth := hex.EncodeToString(rAuth)
	wrapped, err := c.recoveryWrappedKey(ctx, accountID, recoveryAuth)
	if err != nil {
		return nil, "", err
	}
	dataKey, err := unwrapKey(rWrap, wrapped, v2crypto.LabelDataKeyRecovery, accountID)
	if err != nil {
		return nil, "", err
	}
	iterations, err := c.iterations(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	pw, code, recovery, err := newAccountMaterial(accountID, newPassword, iterations, dataKey)
	if err != nil {
		return nil, "", err
	}
	if err := opts.confirm(code); err != nil {
		return nil, "", err
	}
	grant, err := c.recover(ctx, accountID, recoveryAuth, pw.keys, recovery)
	if err != nil {
		return nil, "", err
	}
	return c.newSession(accountID, grant, pw.keys.KDF, pw.keys.WrappedKey, dataKey, opts), code, nil
}

// upgradeAttempts bounds how often one upgrade is sent again after a
// network failure or a server error.
const upgradeAttempts = 4

// UpgradeV1 turns the v1 backup of username and password into a protocol v2
// account holding it, with every version. The step is atomic on the server
// and may be sent again with the same material: after a failure on the way
// the same request is repeated, and the server answers it as done when it
// had committed it. The recovery code is returned only after the server
// confirmed the upgrade.
func (c *Client) UpgradeV1(ctx context.Context, username, password string, opts V2Options) (*Session, string, error) {
	accountID, err := v2AccountID(username)
	if err != nil {
		return nil, "", err
	}
	v1, err := Derive(username, password)
	if err != nil {
		return nil, "", err
	}
	iterations, err := c.iterations(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	dataKey := randomBytes(v2crypto.KeySize)
	pw, code, recovery, err := newAccountMaterial(accountID, password, iterations, dataKey)
	if err != nil {
		return nil, "", err
	}
	legacy, err := wrapKeyWith(dataKey, v1.EncryptionKey, v2crypto.LabelLegacyKey, accountID)
	if err != nil {
		return nil, "", err
	}
	req := upgradeRequest{
		UserID: v1.Credentials.UserID, StorageKey: v1.Credentials.StorageKey, BackupID: NewBackupID(),
		WrappedLegacyKey: legacy, newKeys: pw.keys, recoveryKeys: recovery,
	}
	grant, err := c.upgradeWithRetries(ctx, req)
	if err != nil {
		return nil, "", err
	}
	return c.newSession(accountID, grant, pw.keys.KDF, pw.keys.WrappedKey, dataKey, opts), code, nil
}

// upgradeWithRetries sends one upgrade, again with the same material after
// a failure on the way.
func (c *Client) upgradeWithRetries(ctx context.Context, req upgradeRequest) (sessionGrant, error) {
	for attempt := 1; ; attempt++ {
		grant, err := c.upgrade(ctx, req)
		if err == nil {
			return grant, nil
		}
		if attempt == upgradeAttempts || !worthRetrying(err) {
			return sessionGrant{}, err
		}
		if err := sleep(ctx, retryDelay(err, attempt)); err != nil {
			return sessionGrant{}, err
		}
	}
}

// AddV1Backup moves another v1 backup of the account's username (one saved
// under an older password, v1Password) into the account, with every
// version, and returns its new backup id. The account's own password proves
// the account; the v1 key of that backup is kept under the data key, so its
// versions stay readable. Resumable like UpgradeV1.
func (s *Session) AddV1Backup(ctx context.Context, username, v1Password, password string) (string, error) {
	if UserID(username) != s.accountID {
		return "", errors.New("client: the v1 backup must be of the account's own username")
	}
	auth, err := s.proveCurrent(password)
	if err != nil {
		return "", err
	}
	v1, err := Derive(username, v1Password)
	if err != nil {
		return "", err
	}
	legacy, err := wrapKeyWith(s.dataKey, v1.EncryptionKey, v2crypto.LabelLegacyKey, s.accountID)
	if err != nil {
		return "", err
	}
	// An existing account takes the backup on its own auth; the call's
	// other new-account members are not used, but must be well formed.
	unused, err := wrapKeyWith(randomBytes(v2crypto.KeySize), randomBytes(v2crypto.KeySize), v2crypto.LabelDataKeyRecovery, s.accountID)
	if err != nil {
		return "", err
	}
	req := upgradeRequest{
		UserID: v1.Credentials.UserID, StorageKey: v1.Credentials.StorageKey, BackupID: NewBackupID(),
		WrappedLegacyKey: legacy,
		newKeys:          newKeys{KDF: s.kdf, Auth: auth, WrappedKey: s.wrappedKey},
		recoveryKeys:     recoveryKeys{RecoveryAuth: hex.EncodeToString(randomBytes(v2crypto.KeySize)), RecoveryWrappedKey: unused},
	}
	grant, err := s.client.upgradeWithRetries(ctx, req)
	if err != nil {
		return "", err
	}
	s.token, s.expiresAt = grant.Token, grant.ExpiresAt
	return req.BackupID, nil
}

// worthRetrying is true for a request that may not have reached the server,
// or that the server could not finish: never for its refusals.
func worthRetrying(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status >= 500 || apiErr.Status == http.StatusTooManyRequests
	}
	return true // a network failure: the answer, or the request, was lost
}

func retryDelay(err error, attempt int) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		return min(apiErr.RetryAfter, time.Minute)
	}
	return time.Duration(attempt) * 500 * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Logout ends the session on the server.
func (s *Session) Logout(ctx context.Context) error {
	_, err := s.client.v2Call(ctx, http.MethodPost, "/logout", s.token, nil, nil)
	return err
}

// DeleteAccount removes the account, every backup and every session. The
// password is asked again, as for any act that cannot be undone.
func (s *Session) DeleteAccount(ctx context.Context, password string) error {
	auth, err := s.proveCurrent(password)
	if err != nil {
		return err
	}
	_, err = s.client.v2Call(ctx, http.MethodDelete, "/account", s.token, struct {
		Auth string `json:"auth"`
	}{auth}, nil)
	return err
}

// Account reports the account's storage use and recent activity.
func (s *Session) Account(ctx context.Context) (AccountInfo, error) {
	var out AccountInfo
	_, err := s.client.v2Call(ctx, http.MethodGet, "/account", s.token, nil, &out)
	return out, err
}

// Backups lists the account's backups.
func (s *Session) Backups(ctx context.Context) ([]BackupSummary, error) {
	var out struct {
		Backups []BackupSummary `json:"backups"`
	}
	_, err := s.client.v2Call(ctx, http.MethodGet, "/backups", s.token, nil, &out)
	return out.Backups, err
}

// Versions lists the kept versions of a backup, newest first.
func (s *Session) Versions(ctx context.Context, backupID string) ([]VersionInfo, error) {
	if err := checkBackupID(backupID); err != nil {
		return nil, err
	}
	var out struct {
		Versions []VersionInfo `json:"versions"`
	}
	_, err := s.client.v2Call(ctx, http.MethodGet, "/backups/"+backupID+"/versions", s.token, nil, &out)
	return out.Versions, err
}

// DeleteBackup removes a backup and every version of it.
func (s *Session) DeleteBackup(ctx context.Context, backupID string) error {
	if err := checkBackupID(backupID); err != nil {
		return err
	}
	if _, err := s.client.v2Call(ctx, http.MethodDelete, "/backups/"+backupID, s.token, nil, nil); err != nil {
		return err
	}
	return s.opts.Seen.Forget(s.accountID, backupID)
}

// newestVersion is the server's newest version of a backup, zero when it
// has none yet.
func (s *Session) newestVersion(ctx context.Context, backupID string) (int64, error) {
	backups, err := s.Backups(ctx)
	if err != nil {
		return 0, err
	}
	for _, b := range backups {
		if b.ID == backupID {
			return b.Version, nil
		}
	}
	return 0, nil
}

// checkRollback compares the server's newest version with the highest seen.
func (s *Session) checkRollback(backupID string, newest int64) error {
	seen, err := s.opts.Seen.Highest(s.accountID, backupID)
	if err != nil {
		return err
	}
	if newest < seen {
		return &RollbackError{BackupID: backupID, Seen: seen, Got: newest}
	}
	return nil
}

// Save encrypts plaintext as the next version of a backup (NewBackupID
// draws the id of a new one), compressed when that makes it smaller. The
// version number is in the associated data, so it is fixed before the
// upload; if another device saved in between, the save is sealed again for
// the server's next number and sent once more, as a v1 save would overwrite.
// A server whose newest version is older than one seen before is refused
// with *RollbackError.
func (s *Session) Save(ctx context.Context, backupID string, plaintext []byte) (SaveResult, error) {
	if err := checkBackupID(backupID); err != nil {
		return SaveResult{}, err
	}
	if s.dataKey == nil {
		return SaveResult{}, ErrLocked
	}
	// The newest version this client saw is the likely next base; without
	// one, the server is asked. A wrong guess costs one 412 and a retry.
	newest, err := s.opts.Seen.Highest(s.accountID, backupID)
	if err != nil {
		return SaveResult{}, err
	}
	if newest == 0 {
		if newest, err = s.newestVersion(ctx, backupID); err != nil {
			return SaveResult{}, err
		}
	}
	for attempt := 1; ; attempt++ {
		if err := s.checkRollback(backupID, newest); err != nil {
			return SaveResult{}, err
		}
		b := v2crypto.Backup{AccountID: s.accountID, BackupID: backupID, Version: newest + 1}
		data, err := v2crypto.SealBackup(s.dataKey, randomBytes(v2crypto.NonceSize), b, plaintext, true)
		if err != nil {
			return SaveResult{}, fmt.Errorf("client: %w", err)
		}
		result, err := s.client.putVersion(ctx, s.token, backupID, b.Version, data)
		var apiErr *APIError
		if attempt == 1 && errors.As(err, &apiErr) && apiErr.Status == http.StatusPreconditionFailed {
			if newest = apiErr.CurrentVersion; newest == 0 {
				if newest, err = s.newestVersion(ctx, backupID); err != nil {
					return SaveResult{}, err
				}
			}
			continue
		}
		if err != nil {
			return SaveResult{}, err
		}
		return result, s.opts.Seen.Record(s.accountID, backupID, result.Version)
	}
}

// Restored is an opened backup version.
type Restored struct {
	Plaintext []byte
	Version   int64
	UpdatedAt time.Time
	// Legacy marks a version saved under protocol v1 before the upgrade,
	// opened with the v1 key the account keeps wrapped. v1 envelopes carry
	// no associated data: their version label is the server's word.
	Legacy bool
}

// Restore fetches and opens a version of a backup; zero means the newest.
// When the newest is older than a version seen before, the opened version
// comes back together with *RollbackError: the caller decides whether to
// use it.
func (s *Session) Restore(ctx context.Context, backupID string, version int64) (Restored, error) {
	if err := checkBackupID(backupID); err != nil {
		return Restored{}, err
	}
	if s.dataKey == nil {
		return Restored{}, ErrLocked
	}
	stored, err := s.client.getVersion(ctx, s.token, backupID, version)
	if err != nil {
		return Restored{}, err
	}
	if version != 0 && stored.Version != version {
		return Restored{}, fmt.Errorf("client: asked for version %d of backup %s, the server sent %d", version, backupID, stored.Version)
	}
	out := Restored{Version: stored.Version, UpdatedAt: stored.UpdatedAt}
	if out.Plaintext, out.Legacy, err = s.open(backupID, stored); err != nil {
		return Restored{}, err
	}
	if version != 0 {
		return out, nil
	}
	if err := s.checkRollback(backupID, stored.Version); err != nil {
		return out, err
	}
	return out, s.opts.Seen.Record(s.accountID, backupID, stored.Version)
}

func (s *Session) open(backupID string, stored storedVersion) (plaintext []byte, legacy bool, err error) {
	var probe struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal([]byte(stored.Data), &probe); err != nil {
		return nil, false, ErrMalformedEnvelope
	}
	if probe.V != nil {
		b := v2crypto.Backup{AccountID: s.accountID, BackupID: backupID, Version: stored.Version}
		plaintext, err := v2crypto.OpenBackup(s.dataKey, b, stored.Data)
		if err != nil {
			return nil, false, fmt.Errorf("%w (%v)", ErrDecrypt, err)
		}
		return plaintext, false, nil
	}
	// A v1 envelope, carried over by an upgrade.
	if stored.WrappedLegacyKey == "" {
		return nil, true, fmt.Errorf("%w: a v1 version without the v1 key", ErrDecrypt)
	}
	legacyKey, err := unwrapKey(s.dataKey, stored.WrappedLegacyKey, v2crypto.LabelLegacyKey, s.accountID)
	if err != nil {
		return nil, true, fmt.Errorf("%w: the v1 key does not open", ErrDecrypt)
	}
	plaintext, err = Open(legacyKey, stored.Data)
	return plaintext, true, err
}
