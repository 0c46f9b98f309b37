// Package store is the storage contract: the domain types, the Store
// interface and the closed set of errors every implementation returns.
//
// Every identifier a Store sees is already peppered (an HMAC of what the
// client sent, see package pepper): a Store never holds a raw userId or
// storageKey, so neither can a stolen database.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The closed set of errors. Implementations return these (or a *LimitError or
// *StaleError) and nothing else the caller must understand; routes maps each
// to one HTTP status in one function. Anything else is a fault (500 or 503).
var (
	// ErrNotFound: no such user, backup or version.
	ErrNotFound = errors.New("not found")
	// ErrExists: the user is already registered.
	ErrExists = errors.New("already exists")
	// ErrQuota: the new version alone exceeds the quota, or a new backup
	// would take its address's share of the user past it.
	ErrQuota = errors.New("quota exceeded")
	// ErrReplay: the signature was already used inside its window.
	ErrReplay = errors.New("replayed request")
	// ErrUnavailable: the database cannot be reached or is not usable now.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrNoSpace: the database's disk is full.
	ErrNoSpace = errors.New("storage full")
)

// LimitError refuses an action until RetryAfter has passed.
type LimitError struct {
	Reason     string // short, fixed text such as "saves per hour"; never user input
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit reached: %s (retry after %s)", e.Reason, e.RetryAfter)
}

// ReasonBackupsPerUser is the LimitError.Reason of a save refused because
// the user already holds the most backups allowed.
const ReasonBackupsPerUser = "backups per user"

// ReasonBackupsPerAddress is the LimitError.Reason of a new backup refused
// because the user already holds the most backups created from the
// requesting address.
const ReasonBackupsPerAddress = "backups per user from this address"

// StaleError refuses a conditional save: Current is the newest version.
type StaleError struct{ Current int64 }

func (e *StaleError) Error() string { return fmt.Sprintf("stale version (current %d)", e.Current) }

// Backup is one stored version of a backup.
type Backup struct {
	Data      string
	Version   int64
	UpdatedAt time.Time
	// LegacyKey is, for a backup upgraded from v1, the v1 key sealed under
	// the account's data key; empty otherwise.
	LegacyKey string
}

// VersionInfo describes one version without its data.
type VersionInfo struct {
	Version   int64
	UpdatedAt time.Time
	Size      int64
}

// SaveRequest is one upsert. User and Key are peppered ids; a backup is
// identified by the pair, so the same Key under another User is another
// backup.
type SaveRequest struct {
	User, Key string
	Data      string
	IfMatch   int64 // > 0: save only if this is still the newest version
	Now       time.Time
	Limits    SaveLimits
	// Creator tags the requesting address (a short keyed hash); it is stored
	// with a backup the save creates and counted by MaxBackupsPerAddress.
	Creator string
	// Nonce, when set, is a signed request's replay record, written in the
	// save's transaction until NonceExpires: a replay is refused with
	// ErrReplay, and the save pays no commit of its own for it.
	Nonce        string
	NonceExpires time.Time
	// Name is a protocol v2 backup's backupId, stored when the save creates
	// the backup; empty for v1. A v1 save (no Name) that would create a
	// backup under a user with an account is refused with ErrAccount.
	Name string
	// Version, when > 0, is the exact version this save must become (v2:
	// the client binds the number into its ciphertext): a *StaleError
	// unless the newest is Version-1 (no backup yet for 1).
	Version int64
}

// SaveLimits are checked in the same transaction as the write, so they hold
// across restarts and across instances sharing one database. Zero is off.
type SaveLimits struct {
	PerHour, PerDay   int
	MaxBackupsPerUser int
	// MaxBackupsPerAddress bounds the backups of one user created with one
	// Creator, so that one address cannot take all of a user's slots.
	MaxBackupsPerAddress int
	// QuotaBytes bounds each backup, history included: the oldest versions
	// give way to a new save. A new backup is refused when it and the
	// newest versions of the user's backups with the same Creator exceed it.
	QuotaBytes   int64
	HistoryDepth int // previous versions kept besides the newest
}

// SaveResult is what a successful save reports.
type SaveResult struct {
	Version   int64
	UpdatedAt time.Time
	Pruned    int64 // history versions the save dropped to keep to the depth limit or the quota
}

// Usage is a user's storage, history included.
type Usage struct {
	BytesUsed int64
	Backups   int64
	Versions  int64
}

// Stats are totals and usage figures for operators, as of a given time.
type Stats struct {
	Users, Backups, Versions int64
	Accounts                 int64 // users with a protocol v2 account
	StoredBytes              int64 // NewestBytes + HistoryBytes
	NewestBytes              int64 // the newest version of every backup
	HistoryBytes             int64 // the versions kept as history
	LargestBackup            int64 // bytes of the largest newest version
	UsersWithBackups         int64
	// Users who saved or restored in the last 1, 7 and 30 days.
	Active1d, Active7d, Active30d int64
	// Today holds the day's usage counters (see AddUsage), UTC day of now.
	Today map[string]int64
}

// AdminUsers and AdminBackups name the tables AdminList reads.
const (
	AdminUsers   = "users"
	AdminBackups = "backups"
)

// AdminQuery selects rows of users or backups for the operators' dashboard.
// Fields are "id", "created", and for backups also "updated", "storage_key"
// (the same as "id"), "user_id", "version" and "size".
type AdminQuery struct {
	Table  string      // AdminUsers or AdminBackups
	Where  []AdminCond // all of them hold, or any of them when Any is set
	Any    bool
	Sort   string // a field; "" sorts by "created"
	Desc   bool
	Offset int
	Limit  int  // at most this many rows (> 0)
	Total  bool // also count every matching row
}

// AdminCond compares a field with a value given as text. Op is one of "=",
// "!=", "~" (contains), "!~", and for version, size, created and updated
// also "<", "<=", ">", ">=".
type AdminCond struct{ Field, Op, Value string }

// AdminRow is one user (ID, Created) or one backup's metadata (ID is the
// backup's row id; a storage key is unique only per user), never its data.
type AdminRow struct {
	ID, User, Key    string
	Version, Size    int64
	Created, Updated time.Time
}

// AdminPage is one page of rows; Total is -1 unless the query asked for it.
type AdminPage struct {
	Rows  []AdminRow
	Total int64
}

// ErrBadQuery: an AdminQuery names an unknown table, field or operator.
var ErrBadQuery = errors.New("unsupported query")

// Event kinds kept in a backup's activity log.
const (
	EventSaved          = "saved"
	EventRestored       = "restored"
	EventFailedAttempt  = "failed_attempt"
	EventDeletedVersion = "deleted_version"
)

// Event is one line of a backup's activity log, at minute precision.
type Event struct {
	Kind  string
	At    time.Time
	Count int64
}

// EventRecord is one event to record, for a backup (or user-wide), or Count
// equal ones in the same minute (0 counts as one).
type EventRecord struct {
	User, Key, Kind string
	At              time.Time
	Count           int64
}

// ActivityDepth is how many events each backup keeps.
const ActivityDepth = 50

// FailedAttemptDepth is how many minutes of failed attempts each user keeps,
// in a window apart from its backups' own events, so that a stranger's
// guesses cannot push the owner's events out.
const FailedAttemptDepth = 20

// Store is the storage contract. All ids are peppered. Methods are safe for
// concurrent use; each mutating method is one transaction.
type Store interface {
	Accounts

	// Register creates a user; ErrExists when it already exists (exactly one
	// of two racing registrations succeeds).
	Register(ctx context.Context, user string, now time.Time) error

	// RegisterCounted is Register under a Hit-style limit on bucket, in one
	// transaction: a user that exists is ErrExists and spends nothing, so
	// only registrations that create a user count.
	RegisterCounted(ctx context.Context, user, bucket string, window time.Duration, max int, now time.Time) error

	// SaveBackup upserts the backup keyed by (req.User, req.Key) as a new
	// version, keeping the previous ones as history, pruned to the depth
	// limit and the quota (oldest first).
	// Errors: ErrNotFound (unknown user), *LimitError, *StaleError, ErrQuota.
	SaveBackup(ctx context.Context, req SaveRequest) (SaveResult, error)

	// GetBackup returns the newest version (version == 0) or the given one.
	// ErrNotFound when the user, the key (for this user) or the version is
	// unknown.
	GetBackup(ctx context.Context, user, key string, version int64) (Backup, error)

	// Versions lists the versions of a backup, newest first.
	Versions(ctx context.Context, user, key string) ([]VersionInfo, error)

	// DeleteBackup removes the backup, its history and activity, and the user
	// once no backup of theirs is left unless the user has an account.
	// ErrNotFound as for GetBackup.
	DeleteBackup(ctx context.Context, user, key string) error

	// CountBackups reports how many backups user holds: 0 for an unknown
	// user. Only for a caller that has proved a key of user (it tells the
	// owner what a delete left behind).
	CountBackups(ctx context.Context, user string) (int64, error)

	// Usage reports the user's storage; ErrNotFound as for GetBackup.
	Usage(ctx context.Context, user, key string) (Usage, error)

	// RecordEvents adds to activity logs in one transaction, merging events
	// of one kind in one minute and keeping each backup's last ActivityDepth.
	// An EventFailedAttempt is user-wide (Key empty); events of unknown users
	// are dropped.
	RecordEvents(ctx context.Context, events []EventRecord) error

	// Activity returns a backup's events newest first, including the
	// user-wide failed attempts; ErrNotFound as for GetBackup. An empty key
	// returns the user-wide events only (ErrNotFound for an unknown user).
	Activity(ctx context.Context, user, key string) ([]Event, error)

	// UseNonce records a signature (already hashed) until expires;
	// ErrReplay when it was recorded before and has not expired.
	UseNonce(ctx context.Context, nonce string, expires, now time.Time) error

	// Hit counts one event for bucket in a sliding window and returns a
	// *LimitError when it would pass max. Used for limits that must hold
	// across instances, such as new users per address per day.
	Hit(ctx context.Context, bucket string, window time.Duration, max int, now time.Time) error

	// CreateInvite stores a single-use invite code (already hashed).
	CreateInvite(ctx context.Context, code string, expires, now time.Time) error
	// UseInvite consumes an invite and registers user in one transaction.
	// ErrNotFound when the code is unknown, used or expired; ErrExists as
	// for Register (the invite is then left unused).
	UseInvite(ctx context.Context, code, user string, now time.Time) error

	// CheckFingerprint stores fp on first use and afterwards reports
	// whether it matches the stored one.
	CheckFingerprint(ctx context.Context, fp string) (bool, error)

	// Stats reports totals and usage figures for operators at now.
	Stats(ctx context.Context, now time.Time) (Stats, error)

	// AddUsage adds counts to the day's usage counters (named by the
	// caller from a fixed set), so that instances sharing one database add
	// up; day is truncated to its UTC date. Counters older than 40 days are
	// dropped by Prune.
	AddUsage(ctx context.Context, day time.Time, counts map[string]int64) error

	// AdminList reads users or backups' metadata for the dashboard, never
	// backup data; ErrBadQuery for a query it cannot run.
	AdminList(ctx context.Context, q AdminQuery) (AdminPage, error)

	// DeleteUser removes the user and everything of theirs: backups,
	// history, activity, account and sessions. ErrNotFound when the user is unknown.
	DeleteUser(ctx context.Context, user string) error

	// Ping makes a real round trip to the database.
	Ping(ctx context.Context) error

	// Rekey rewrites every stored id (users, backup keys, history, activity)
	// through rekey and stores the new pepper fingerprint, in one transaction,
	// for rotating the pepper; accounts' ids and verifiers included. Records
	// that cannot be linked to a user (nonces, rate-limit buckets) and
	// sessions are dropped: they expire within a day anyway.
	Rekey(ctx context.Context, rekey func(id string) string, fingerprint string) error

	// Prune drops expired nonces, rate-limit records and sessions.
	Prune(ctx context.Context, now time.Time) error

	Close() error
}
