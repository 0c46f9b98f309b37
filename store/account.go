package store

import (
	"context"
	"errors"
	"time"
)

// ErrAccount refuses a protocol v1 request that would create a backup under
// a user who has a protocol v2 account: after an upgrade no v1 backup can
// appear beside the account.
var ErrAccount = errors.New("the user has a protocol v2 account")

// Account is what the server keeps of a protocol v2 account. None of it
// lets anyone test a password guess with less than one full slow
// derivation: the verifiers are peppered HMACs of keys derived after it,
// and the wrapped keys need it to unwrap.
type Account struct {
	User string // the peppered accountId: the account's users row
	// KDF is the client's {"name", "iterations", "salt"} object, stored as
	// the JSON the routes validated and encoded.
	KDF string
	// Verifier and RecoveryVerifier are peppered authKey and recoveryAuthKey.
	Verifier, RecoveryVerifier string
	// WrappedKey is the data key sealed under the password's wrapping key,
	// RecoveryWrappedKey the same key sealed under the recovery code's.
	WrappedKey, RecoveryWrappedKey string
	Created, Updated               time.Time
}

// Session is one login. Token is peppered; a session past Expires is gone.
type Session struct {
	Token, User string
	Expires     time.Time
}

// HitLimit is a Hit-style limit applied inside another transaction; a zero
// Max is off.
type HitLimit struct {
	Bucket string
	Window time.Duration
	Max    int
}

// NewAccount creates an account and its first session in one transaction.
type NewAccount struct {
	Account Account
	Session Session
	// Invite, when set, is consumed in the same transaction: ErrNotFound
	// when it is unknown, used or expired.
	Invite string
	// Limit counts the creation (only a creation: ErrExists spends nothing).
	Limit HitLimit
	Now   time.Time
}

// AccountKeys is the key material a password change or a recovery sets.
type AccountKeys struct {
	KDF, Verifier, WrappedKey string
	// RecoveryVerifier and RecoveryWrappedKey are set by a recovery, which
	// replaces the used code; empty keeps the stored ones.
	RecoveryVerifier, RecoveryWrappedKey string
}

// KeyChange replaces an account's key material if Expect still holds, ends
// every session of the account and starts Session, in one transaction.
type KeyChange struct {
	User string
	// Expect is the verifier the caller checked (the Verifier for a password
	// change, the RecoveryVerifier for a recovery): a change that raced
	// another is refused with ErrNotFound rather than applied to new keys.
	Expect     string
	ByRecovery bool // Expect is the recovery verifier
	Keys       AccountKeys
	Session    Session
	Now        time.Time
}

// Upgrade moves a v1 backup into a v2 account in one transaction.
type Upgrade struct {
	// V1Key is the peppered storageKey of the v1 backup under Account.User.
	V1Key string
	// Key is the peppered backupId it is moved to, Name the backupId as the
	// client chose it (random, listed back to the client), LegacyKey the v1
	// encryption key sealed under the data key.
	Key, Name, LegacyKey string
	// Account is created unless one exists; an existing account takes the
	// backup only when its Verifier equals Account.Verifier (a resumed or a
	// signed-in upgrade), else ErrExists.
	Account Account
	Session Session
	Now     time.Time
}

// BackupInfo is one backup of an account, without its data.
type BackupInfo struct {
	Name      string // the client's backupId
	Version   int64
	Size      int64
	UpdatedAt time.Time
}

// Accounts is the protocol v2 part of the storage contract. All ids,
// verifiers and tokens are peppered.
type Accounts interface {
	// CreateAccount creates the user row and its account and first
	// session; ErrExists when the user exists (a v1 user included),
	// *LimitError from the limit, ErrNotFound from the invite.
	CreateAccount(ctx context.Context, req NewAccount) error

	// GetAccount returns the account; ErrNotFound when there is none.
	GetAccount(ctx context.Context, user string) (Account, error)

	// CreateSession stores a session of an existing account (ErrNotFound
	// otherwise), dropping the account's expired ones.
	CreateSession(ctx context.Context, s Session, now time.Time) error

	// SessionUser returns the account of a live session; ErrNotFound when
	// the token is unknown or expired.
	SessionUser(ctx context.Context, token string, now time.Time) (string, error)

	// DeleteSession ends a session; ErrNotFound when there is none.
	DeleteSession(ctx context.Context, token string) error

	// ChangeKeys applies a password change or a recovery (see KeyChange).
	ChangeKeys(ctx context.Context, req KeyChange) error

	// UpgradeV1 moves a v1 backup and every version of it, numbers kept,
	// under an account (see Upgrade). ErrNotFound when neither the v1 key
	// nor, for a resumed upgrade, the moved backup exists.
	UpgradeV1(ctx context.Context, req Upgrade) error

	// ListBackups returns the account's v2 backups (those with a Name),
	// newest save first; ErrNotFound when there is no account.
	ListBackups(ctx context.Context, user string) ([]BackupInfo, error)

	// AccountUsage reports the storage of every backup of user, history
	// included; ErrNotFound when the user is unknown.
	AccountUsage(ctx context.Context, user string) (Usage, error)
}
