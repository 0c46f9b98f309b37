package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/store"
)

// The protocol v2 part of the contract: accounts, sessions, upgrades from
// v1, v2 saves and what v1 may no longer do beside an account.

var accountTests = map[string]func(*testing.T, store.Store){
	"CreateAccount":          testCreateAccount,
	"CreateAccountLimit":     testCreateAccountLimit,
	"CreateAccountInvite":    testCreateAccountInvite,
	"CreateAccountRace":      testCreateAccountRace,
	"Sessions":               testSessions,
	"SessionsPruned":         testSessionsPruned,
	"ChangeKeys":             testChangeKeys,
	"ChangeKeysRecovery":     testChangeKeysRecovery,
	"ChangeKeysRace":         testChangeKeysRace,
	"Upgrade":                testUpgrade,
	"UpgradeResume":          testUpgradeResume,
	"UpgradeIntoAccount":     testUpgradeIntoAccount,
	"UpgradeInterrupted":     testUpgradeInterrupted,
	"UpgradeRace":            testUpgradeRace,
	"ExactVersion":           testExactVersion,
	"ExactVersionRace":       testExactVersionRace,
	"V1BesideAccount":        testV1BesideAccount,
	"ListBackups":            testListBackups,
	"AccountUsage":           testAccountUsage,
	"DeleteBackupKeepsAcct":  testDeleteBackupKeepsAccount,
	"DeleteUserAccount":      testDeleteUserAccount,
	"UserActivity":           testUserActivity,
	"RekeyAccounts":          testRekeyAccounts,
	"AccountStats":           testAccountStats,
	"AccountErrorsClosedSet": testAccountErrorSet,
	"SessionDeleteRace":      testSessionDeleteRace,
	"UpgradeRacingV1Saves":   testUpgradeRacingV1Saves,
}

// account returns a NewAccount for name with material derived from name
// and a session valid for an hour from t0.
func account(name string) store.NewAccount {
	return store.NewAccount{
		Account: store.Account{User: ID("acct:" + name), KDF: `{"name":"pbkdf2-sha256","iterations":600000,"salt":"` + name + `"}`,
			Verifier: ID("verifier:" + name), RecoveryVerifier: ID("recovery:" + name),
			WrappedKey: "wrapped:" + name, RecoveryWrappedKey: "rwrapped:" + name},
		Session: store.Session{Token: ID("session:" + name), User: ID("acct:" + name), Expires: t0.Add(time.Hour)},
		Now:     t0,
	}
}

func mustCreate(t *testing.T, s store.Store, a store.NewAccount) {
	t.Helper()
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("create account: %v", err)
	}
}

// expectSession checks what a token answers at now: its user, or
// ErrNotFound when user is "".
func expectSession(t *testing.T, s store.Store, token string, now time.Time, user string) {
	t.Helper()
	got, err := s.SessionUser(ctx, token, now)
	if user == "" {
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session %.8s at %v: %q, %v; want ErrNotFound", token, now, got, err)
		}
		return
	}
	if err != nil || got != user {
		t.Fatalf("session %.8s at %v: %q, %v; want %.8s", token, now, got, err, user)
	}
}

// v2Save is a v2 save of version v of the backup named name.
func v2Save(user, name, data string, v int64, at time.Time) store.SaveRequest {
	return store.SaveRequest{User: user, Key: ID("backup:" + name), Name: name, Data: data, Version: v, Now: at, Limits: noLimits}
}

func mustV2Save(t *testing.T, s store.Store, req store.SaveRequest) {
	t.Helper()
	r, err := s.SaveBackup(ctx, req)
	if err != nil || r.Version != req.Version {
		t.Fatalf("v2 save of version %d: %+v, %v", req.Version, r, err)
	}
}

func testCreateAccount(t *testing.T, s store.Store) {
	a := account("alice")
	mustCreate(t, s, a)
	got, err := s.GetAccount(ctx, a.Account.User)
	want := a.Account
	want.Created, want.Updated = t0, t0
	if err != nil || got != want {
		t.Fatalf("account = %+v, %v; want %+v", got, err, want)
	}
	expectSession(t, s, a.Session.Token, t0, a.Account.User)

	// A second creation, with other material, changes nothing.
	again := account("alice")
	again.Account.Verifier, again.Session.Token = ID("other"), ID("other-session")
	expectErr(t, s.CreateAccount(ctx, again), store.ErrExists)
	if got, err := s.GetAccount(ctx, a.Account.User); err != nil || got.Verifier != a.Account.Verifier {
		t.Fatalf("after a refused creation: %+v, %v", got, err)
	}
	expectSession(t, s, again.Session.Token, t0, "")

	// A v1 user's name is taken too.
	v1 := account("v1-user")
	mustRegister(t, s, v1.Account.User)
	expectErr(t, s.CreateAccount(ctx, v1), store.ErrExists)
	_, err = s.GetAccount(ctx, v1.Account.User)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.GetAccount(ctx, ID("nobody"))
	expectErr(t, err, store.ErrNotFound)
}

// Only creations count against the limit, and a refusal by the limit
// leaves no user behind.
func testCreateAccountLimit(t *testing.T, s store.Store) {
	limit := store.HitLimit{Bucket: "create:addr", Window: time.Hour, Max: 2}
	with := func(name string) store.NewAccount {
		a := account(name)
		a.Limit = limit
		return a
	}
	mustCreate(t, s, with("a"))
	expectErr(t, s.CreateAccount(ctx, with("a")), store.ErrExists)
	mustCreate(t, s, with("b"))
	c := with("c")
	expectLimit(t, s.CreateAccount(ctx, c), time.Second, time.Hour)
	_, err := s.GetAccount(ctx, c.Account.User)
	expectErr(t, err, store.ErrNotFound)
	expectSession(t, s, c.Session.Token, t0, "")
	mustRegister(t, s, c.Account.User) // the user row was rolled back
	// Another bucket is not spent.
	d := with("d")
	d.Limit.Bucket = "create:other"
	mustCreate(t, s, d)
}

func testCreateAccountInvite(t *testing.T, s store.Store) {
	code := ID("acct-invite")
	if err := s.CreateInvite(ctx, code, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	unknown := account("uninvited")
	unknown.Invite = ID("no-such-invite")
	expectErr(t, s.CreateAccount(ctx, unknown), store.ErrNotFound)
	_, err := s.GetAccount(ctx, unknown.Account.User)
	expectErr(t, err, store.ErrNotFound)

	// A taken name leaves the invite unused.
	taken := account("taken")
	mustRegister(t, s, taken.Account.User)
	taken.Invite = code
	expectErr(t, s.CreateAccount(ctx, taken), store.ErrExists)

	a := account("invited")
	a.Invite = code
	mustCreate(t, s, a)
	b := account("second")
	b.Invite = code
	expectErr(t, s.CreateAccount(ctx, b), store.ErrNotFound) // used
	if err := s.CreateInvite(ctx, ID("late"), t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	late := account("late")
	late.Invite, late.Now = ID("late"), t0.Add(time.Hour)
	expectErr(t, s.CreateAccount(ctx, late), store.ErrNotFound) // expired
}

func testCreateAccountRace(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []int
	exists := 0
	for i := range 12 {
		wg.Go(func() {
			a := account("racer")
			a.Account.Verifier = ID(fmt.Sprint("racer-verifier-", i))
			a.Session.Token = ID(fmt.Sprint("racer-session-", i))
			err := s.CreateAccount(ctx, a)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, i)
			case errors.Is(err, store.ErrExists):
				exists++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 || exists != 11 {
		t.Fatalf("won %v, %d refused; want one winner and 11 refused", won, exists)
	}
	got, err := s.GetAccount(ctx, ID("acct:racer"))
	if err != nil || got.Verifier != ID(fmt.Sprint("racer-verifier-", won[0])) {
		t.Fatalf("account after the race: %+v, %v (winner %d)", got, err, won[0])
	}
	for i := range 12 {
		user := ""
		if i == won[0] {
			user = ID("acct:racer")
		}
		expectSession(t, s, ID(fmt.Sprint("racer-session-", i)), t0, user)
	}
}

func testSessions(t *testing.T, s store.Store) {
	a := account("sessions")
	mustCreate(t, s, a)
	u := a.Account.User
	// Expiry is absolute: live before, gone at and after.
	expectSession(t, s, a.Session.Token, t0.Add(time.Hour-time.Millisecond), u)
	expectSession(t, s, a.Session.Token, t0.Add(time.Hour), "")
	expectSession(t, s, ID("unknown-token"), t0, "")

	second := store.Session{Token: ID("second"), User: u, Expires: t0.Add(2 * time.Hour)}
	if err := s.CreateSession(ctx, second, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	expectSession(t, s, second.Token, t0.Add(90*time.Minute), u)
	expectSession(t, s, a.Session.Token, t0, u) // the first is still live at t0

	// A login once the first has expired drops it: even an old clock no
	// longer finds it.
	third := store.Session{Token: ID("third"), User: u, Expires: t0.Add(3 * time.Hour)}
	if err := s.CreateSession(ctx, third, t0.Add(61*time.Minute)); err != nil {
		t.Fatal(err)
	}
	expectSession(t, s, a.Session.Token, t0, "")
	expectSession(t, s, second.Token, t0, u)

	if err := s.DeleteSession(ctx, second.Token); err != nil {
		t.Fatal(err)
	}
	expectSession(t, s, second.Token, t0, "")
	expectErr(t, s.DeleteSession(ctx, second.Token), store.ErrNotFound)
	expectSession(t, s, third.Token, t0, u)

	// Sessions only for accounts: not for a v1 user, nor for nobody.
	v1 := ID("sessions-v1")
	mustRegister(t, s, v1)
	expectErr(t, s.CreateSession(ctx, store.Session{Token: ID("v1-session"), User: v1, Expires: t0.Add(time.Hour)}, t0), store.ErrNotFound)
	expectErr(t, s.CreateSession(ctx, store.Session{Token: ID("nobody-session"), User: ID("nobody"), Expires: t0.Add(time.Hour)}, t0), store.ErrNotFound)
	expectSession(t, s, ID("v1-session"), t0, "")
}

func testSessionsPruned(t *testing.T, s store.Store) {
	a := account("pruned")
	mustCreate(t, s, a)
	long := store.Session{Token: ID("long"), User: a.Account.User, Expires: t0.Add(48 * time.Hour)}
	if err := s.CreateSession(ctx, long, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(ctx, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	expectSession(t, s, a.Session.Token, t0, "") // expired, dropped
	expectSession(t, s, long.Token, t0, a.Account.User)
}

func testChangeKeys(t *testing.T, s store.Store) {
	a := account("change")
	mustCreate(t, s, a)
	u := a.Account.User
	other := store.Session{Token: ID("change-other"), User: u, Expires: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, other, t0); err != nil {
		t.Fatal(err)
	}
	keys := store.AccountKeys{KDF: `{"new":1}`, Verifier: ID("new-verifier"), WrappedKey: "new-wrapped"}
	next := store.Session{Token: ID("change-next"), User: u, Expires: t0.Add(2 * time.Hour)}
	at := t0.Add(time.Minute)

	// A stale verifier (or the recovery one, for a password change) changes
	// nothing and ends nothing.
	for _, expect := range []string{ID("stale"), a.Account.RecoveryVerifier} {
		err := s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: expect, Keys: keys, Session: next, Now: at})
		expectErr(t, err, store.ErrNotFound)
	}
	expectErr(t, s.ChangeKeys(ctx, store.KeyChange{User: ID("nobody"), Expect: a.Account.Verifier, Keys: keys, Session: next, Now: at}), store.ErrNotFound)
	if got, _ := s.GetAccount(ctx, u); got.Verifier != a.Account.Verifier {
		t.Fatal("a refused change applied")
	}
	expectSession(t, s, other.Token, t0, u)
	expectSession(t, s, next.Token, t0, "")

	if err := s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: a.Account.Verifier, Keys: keys, Session: next, Now: at}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAccount(ctx, u)
	want := a.Account
	want.KDF, want.Verifier, want.WrappedKey = keys.KDF, keys.Verifier, keys.WrappedKey
	want.Created, want.Updated = t0, at
	if err != nil || got != want {
		t.Fatalf("after a password change: %+v, %v; want %+v", got, err, want)
	}
	// Every earlier session ended; the new one is live.
	expectSession(t, s, a.Session.Token, t0, "")
	expectSession(t, s, other.Token, t0, "")
	expectSession(t, s, next.Token, t0, u)
	// The old verifier no longer applies.
	err = s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: a.Account.Verifier, Keys: keys, Session: other, Now: at})
	expectErr(t, err, store.ErrNotFound)
}

func testChangeKeysRecovery(t *testing.T, s store.Store) {
	a := account("recover")
	mustCreate(t, s, a)
	u := a.Account.User
	keys := store.AccountKeys{KDF: `{"r":1}`, Verifier: ID("r-verifier"), WrappedKey: "r-wrapped",
		RecoveryVerifier: ID("r-recovery"), RecoveryWrappedKey: "r-rwrapped"}
	next := store.Session{Token: ID("recover-next"), User: u, Expires: t0.Add(time.Hour)}
	// The password's verifier does not stand for the recovery code's.
	err := s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: a.Account.Verifier, ByRecovery: true, Keys: keys, Session: next, Now: t0})
	expectErr(t, err, store.ErrNotFound)
	err = s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: a.Account.RecoveryVerifier, ByRecovery: true, Keys: keys, Session: next, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetAccount(ctx, u)
	want := store.Account{User: u, KDF: keys.KDF, Verifier: keys.Verifier, RecoveryVerifier: keys.RecoveryVerifier,
		WrappedKey: keys.WrappedKey, RecoveryWrappedKey: keys.RecoveryWrappedKey, Created: t0, Updated: t0}
	if got != want {
		t.Fatalf("after a recovery: %+v; want %+v", got, want)
	}
	expectSession(t, s, a.Session.Token, t0, "")
	expectSession(t, s, next.Token, t0, u)
	// The used code is spent.
	err = s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: a.Account.RecoveryVerifier, ByRecovery: true, Keys: keys, Session: next, Now: t0})
	expectErr(t, err, store.ErrNotFound)
}

// Two changes that both checked the old verifier: exactly one applies.
func testChangeKeysRace(t *testing.T, s store.Store) {
	a := account("change-race")
	mustCreate(t, s, a)
	u := a.Account.User
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []int
	for i := range n {
		wg.Go(func() {
			err := s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: a.Account.Verifier, Now: t0,
				Keys:    store.AccountKeys{KDF: "{}", Verifier: ID(fmt.Sprint("race-v-", i)), WrappedKey: fmt.Sprint("w", i)},
				Session: store.Session{Token: ID(fmt.Sprint("race-s-", i)), User: u, Expires: t0.Add(time.Hour)}})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, i)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("change: %v", err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d changes applied, want 1", len(won))
	}
	got, _ := s.GetAccount(ctx, u)
	if got.Verifier != ID(fmt.Sprint("race-v-", won[0])) || got.WrappedKey != fmt.Sprint("w", won[0]) {
		t.Fatalf("account %+v is not the winner's (%d)", got, won[0])
	}
	for i := range n {
		user := ""
		if i == won[0] {
			user = u
		}
		expectSession(t, s, ID(fmt.Sprint("race-s-", i)), t0, user)
	}
}

// v1Backup writes a v1 backup of versions under a registered user and
// returns them, oldest first.
func v1Backup(t *testing.T, s store.Store, user, key string, versions int) []store.Backup {
	t.Helper()
	var out []store.Backup
	for v := 1; v <= versions; v++ {
		at := t0.Add(time.Duration(v) * time.Minute)
		data := fmt.Sprintf(`{"encrypted":"%s-%d"}`, key[:8], v)
		mustSave(t, s, user, key, data, at, noLimits)
		out = append(out, store.Backup{Data: data, Version: int64(v), UpdatedAt: at})
	}
	return out
}

// upgrade is the Upgrade of user's v1 key into an account made from name.
func upgrade(name, user, v1Key, backup string) store.Upgrade {
	a := account(name)
	a.Account.User = user
	return store.Upgrade{V1Key: v1Key, Key: ID("backup:" + backup), Name: backup, LegacyKey: "legacy:" + backup,
		Account: a.Account, Session: store.Session{Token: ID("upgrade-session:" + backup), User: user, Expires: t0.Add(time.Hour)},
		Now: t0.Add(time.Hour / 2)}
}

// expectMoved checks that versions are served under the v2 key with the
// legacy key, and no longer under the v1 key.
func expectMoved(t *testing.T, s store.Store, up store.Upgrade, versions []store.Backup) {
	t.Helper()
	u := up.Account.User
	_, err := s.GetBackup(ctx, u, up.V1Key, 0)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.Versions(ctx, u, up.V1Key)
	expectErr(t, err, store.ErrNotFound)
	var infos []store.VersionInfo
	for _, v := range slices.Backward(versions) {
		got, err := s.GetBackup(ctx, u, up.Key, v.Version)
		want := v
		want.LegacyKey = up.LegacyKey
		if err != nil || got != want {
			t.Fatalf("version %d after the upgrade: %v, version %d of %d bytes at %v (legacy key %q); want %d bytes at %v (%q)",
				v.Version, err, got.Version, len(got.Data), got.UpdatedAt, got.LegacyKey, len(v.Data), v.UpdatedAt, want.LegacyKey)
		}
		infos = append(infos, store.VersionInfo{Version: v.Version, UpdatedAt: v.UpdatedAt, Size: int64(len(v.Data))})
	}
	if got, err := s.GetBackup(ctx, u, up.Key, 0); err != nil || got.Version != versions[len(versions)-1].Version ||
		got.LegacyKey != up.LegacyKey {
		t.Fatalf("newest after the upgrade: %+v, %v", got, err)
	}
	if got, err := s.Versions(ctx, u, up.Key); err != nil || !slices.Equal(got, infos) {
		t.Fatalf("versions after the upgrade: %+v, %v; want %+v", got, err, infos)
	}
}

// expectV1 checks that a v1 backup is still served as it was.
func expectV1(t *testing.T, s store.Store, user, key string, versions []store.Backup) {
	t.Helper()
	for _, v := range versions {
		if got, err := s.GetBackup(ctx, user, key, v.Version); err != nil || got != v {
			t.Fatalf("v1 version %d of %.8s: %v, version %d of %d bytes at %v (legacy key %q); want %d bytes at %v",
				v.Version, key, err, got.Version, len(got.Data), got.UpdatedAt, got.LegacyKey, len(v.Data), v.UpdatedAt)
		}
	}
}

func testUpgrade(t *testing.T, s store.Store) {
	u, k := ID("up-user"), ID("up-v1-key")
	mustRegister(t, s, u)
	versions := v1Backup(t, s, u, k, 3)
	if err := s.RecordEvents(ctx, []store.EventRecord{{User: u, Key: k, Kind: store.EventRestored, At: t0}}); err != nil {
		t.Fatal(err)
	}
	up := upgrade("up", u, k, "0123456789abcdef0123456789abcdef")

	// Without the v1 key, nothing; not even whether an account exists.
	wrong := up
	wrong.V1Key = ID("not-the-key")
	expectErr(t, s.UpgradeV1(ctx, wrong), store.ErrNotFound)
	nobody := upgrade("up", ID("up-nobody"), k, up.Name)
	expectErr(t, s.UpgradeV1(ctx, nobody), store.ErrNotFound)
	_, err := s.GetAccount(ctx, u)
	expectErr(t, err, store.ErrNotFound)
	expectV1(t, s, u, k, versions)

	if err := s.UpgradeV1(ctx, up); err != nil {
		t.Fatal(err)
	}
	expectMoved(t, s, up, versions)
	got, err := s.GetAccount(ctx, u)
	want := up.Account
	want.Created, want.Updated = up.Now, up.Now
	if err != nil || got != want {
		t.Fatalf("account after the upgrade: %+v, %v; want %+v", got, err, want)
	}
	expectSession(t, s, up.Session.Token, t0, u)
	list, err := s.ListBackups(ctx, u)
	if err != nil || !slices.Equal(list, []store.BackupInfo{{Name: up.Name, Version: 3,
		Size: int64(len(versions[2].Data)), UpdatedAt: versions[2].UpdatedAt}}) {
		t.Fatalf("list after the upgrade: %+v, %v", list, err)
	}
	// The backup's activity came along.
	if ev, err := s.Activity(ctx, u, up.Key); err != nil || len(ev) != 1 || ev[0].Kind != store.EventRestored {
		t.Fatalf("activity after the upgrade: %+v, %v", ev, err)
	}
	// The moved backup saves on as v2, numbers continuing.
	mustV2Save(t, s, v2Save(u, up.Name, "v2-data", 4, t0.Add(time.Hour)))
	// And the retired v1 key cannot create a v1 backup again.
	_, err = save(s, u, k, "v1 again", t0.Add(time.Hour), noLimits)
	expectErr(t, err, store.ErrAccount)
}

// An upgrade whose answer was lost is repeated: the same material succeeds
// again and moves nothing twice; other material is refused.
func testUpgradeResume(t *testing.T, s store.Store) {
	u, k := ID("resume-user"), ID("resume-v1-key")
	mustRegister(t, s, u)
	versions := v1Backup(t, s, u, k, 2)
	up := upgrade("resume", u, k, "resume")
	if err := s.UpgradeV1(ctx, up); err != nil {
		t.Fatal(err)
	}
	again := up
	again.Session.Token = ID("resume-second-session")
	again.Now = up.Now.Add(time.Minute)
	if err := s.UpgradeV1(ctx, again); err != nil {
		t.Fatalf("resumed upgrade: %v", err)
	}
	expectMoved(t, s, up, versions)
	expectSession(t, s, again.Session.Token, t0, u)
	if got, _ := s.GetAccount(ctx, u); !got.Created.Equal(up.Now) || !got.Updated.Equal(up.Now) {
		t.Fatalf("a resumed upgrade rewrote the account: %+v", got)
	}

	other := upgrade("someone-else", u, k, "resume")
	other.Session.Token = ID("resume-other-session")
	expectErr(t, s.UpgradeV1(ctx, other), store.ErrExists)
	expectSession(t, s, other.Session.Token, t0, "")
	if got, _ := s.GetAccount(ctx, u); got.Verifier != up.Account.Verifier {
		t.Fatal("a refused upgrade changed the account")
	}
	// A resume naming another backup than the moved one finds nothing.
	lost := again
	lost.Name, lost.Key = "other", ID("backup:other")
	expectErr(t, s.UpgradeV1(ctx, lost), store.ErrNotFound)
}

// Further v1 backups of the user (older passwords) stay on v1 until each is
// upgraded into the account with the account's own verifier.
func testUpgradeIntoAccount(t *testing.T, s store.Store) {
	u := ID("multi-user")
	mustRegister(t, s, u)
	first, second, third := ID("multi-1"), ID("multi-2"), ID("multi-3")
	v1 := v1Backup(t, s, u, first, 1)
	v2 := v1Backup(t, s, u, second, 2)
	v3 := v1Backup(t, s, u, third, 1)
	up := upgrade("multi", u, first, "multi-a")
	if err := s.UpgradeV1(ctx, up); err != nil {
		t.Fatal(err)
	}
	// The others are still v1: readable, savable, and counted.
	expectV1(t, s, u, second, v2)
	r, err := save(s, u, second, "second, saved on v1", t0.Add(time.Hour), noLimits)
	if err != nil || r.Version != 3 {
		t.Fatalf("v1 save beside the account: %+v, %v", r, err)
	}
	v2 = append(v2, store.Backup{Data: "second, saved on v1", Version: 3, UpdatedAt: t0.Add(time.Hour)})

	// Another's material cannot take one.
	stranger := upgrade("stranger", u, second, "multi-b")
	expectErr(t, s.UpgradeV1(ctx, stranger), store.ErrExists)
	expectV1(t, s, u, second, v2)
	// The backupId is the account's already.
	taken := upgrade("multi", u, second, "multi-a")
	taken.Key = ID("backup:multi-a-other-key")
	expectErr(t, s.UpgradeV1(ctx, taken), store.ErrExists)
	expectV1(t, s, u, second, v2)

	into := upgrade("multi", u, second, "multi-b")
	into.Account.KDF, into.Account.WrappedKey = "unused", "unused" // only the verifier counts
	if err := s.UpgradeV1(ctx, into); err != nil {
		t.Fatal(err)
	}
	expectMoved(t, s, into, v2)
	expectMoved(t, s, up, v1)
	expectV1(t, s, u, third, v3)
	if got, _ := s.GetAccount(ctx, u); got.KDF != up.Account.KDF || got.WrappedKey != up.Account.WrappedKey {
		t.Fatalf("an upgrade into the account rewrote it: %+v", got)
	}
	list, err := s.ListBackups(ctx, u)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

// A transaction that fails after moving the backup (here at its last
// statement, the session's insert, on a token already in use) leaves the v1
// backup where it was, and no account.
func testUpgradeInterrupted(t *testing.T, s store.Store) {
	taken := account("holder")
	mustCreate(t, s, taken)
	u, k := ID("broken-user"), ID("broken-v1-key")
	mustRegister(t, s, u)
	versions := v1Backup(t, s, u, k, 3)
	up := upgrade("broken", u, k, "broken")
	up.Session.Token = taken.Session.Token
	if err := s.UpgradeV1(ctx, up); err == nil {
		t.Fatal("an upgrade reusing a session token succeeded")
	}
	expectV1(t, s, u, k, versions)
	_, err := s.GetBackup(ctx, u, up.Key, 0)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.GetAccount(ctx, u)
	expectErr(t, err, store.ErrNotFound)
	expectSession(t, s, taken.Session.Token, t0, taken.Account.User)
	// v1 keeps working, and the upgrade runs once repeated.
	r, err := save(s, u, k, "after the failure", t0.Add(time.Hour), noLimits)
	if err != nil || r.Version != 4 {
		t.Fatalf("v1 save after the failed upgrade: %+v, %v", r, err)
	}
	versions = append(versions, store.Backup{Data: "after the failure", Version: 4, UpdatedAt: t0.Add(time.Hour)})
	up.Session.Token = ID("broken-fresh-session")
	if err := s.UpgradeV1(ctx, up); err != nil {
		t.Fatal(err)
	}
	expectMoved(t, s, up, versions)
}

// Racing upgrades of one v1 backup, with the same material (a client
// retrying) or another's: the backup moves once, to the account whose
// material won, and every call with that material succeeds.
func testUpgradeRace(t *testing.T, s store.Store) {
	u, k := ID("race-up-user"), ID("race-up-key")
	mustRegister(t, s, u)
	versions := v1Backup(t, s, u, k, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string][]error{}
	for i := range 8 {
		wg.Go(func() {
			name := []string{"race-a", "race-b"}[i%2]
			up := upgrade(name, u, k, "race")
			up.Session.Token = ID(fmt.Sprint("race-up-session-", i))
			err := s.UpgradeV1(ctx, up)
			mu.Lock()
			defer mu.Unlock()
			results[name] = append(results[name], err)
		})
	}
	wg.Wait()
	got, err := s.GetAccount(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	winner, loser := "race-a", "race-b"
	if got.Verifier == account("race-b").Account.Verifier {
		winner, loser = loser, winner
	}
	for _, err := range results[winner] {
		if err != nil {
			t.Errorf("an upgrade with the winning material: %v", err)
		}
	}
	for _, err := range results[loser] {
		if !errors.Is(err, store.ErrExists) {
			t.Errorf("an upgrade with the other material: %v, want ErrExists", err)
		}
	}
	expectMoved(t, s, upgrade(winner, u, k, "race"), versions)
}

func testExactVersion(t *testing.T, s store.Store) {
	a := account("exact")
	mustCreate(t, s, a)
	u := a.Account.User
	var stale *store.StaleError
	// Only version 1 creates.
	_, err := s.SaveBackup(ctx, v2Save(u, "exact", "x", 2, t0))
	if !errors.As(err, &stale) || stale.Current != 0 {
		t.Fatalf("version 2 of no backup: %v, want stale with current 0", err)
	}
	mustV2Save(t, s, v2Save(u, "exact", "one", 1, t0))
	for _, v := range []int64{1, 3} {
		_, err := s.SaveBackup(ctx, v2Save(u, "exact", "x", v, t0))
		if !errors.As(err, &stale) || stale.Current != 1 {
			t.Fatalf("version %d after 1: %v, want stale with current 1", v, err)
		}
	}
	mustV2Save(t, s, v2Save(u, "exact", "two", 2, t0.Add(time.Minute)))
	b, err := s.GetBackup(ctx, u, ID("backup:exact"), 0)
	if err != nil || b != (store.Backup{Data: "two", Version: 2, UpdatedAt: t0.Add(time.Minute)}) {
		t.Fatalf("newest: %+v, %v", b, err)
	}
	if b, err := s.GetBackup(ctx, u, ID("backup:exact"), 1); err != nil || b.Data != "one" {
		t.Fatalf("version 1: %+v, %v", b, err)
	}
	list, err := s.ListBackups(ctx, u)
	if err != nil || len(list) != 1 || list[0].Name != "exact" || list[0].Version != 2 {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

// Of saves racing for one version number exactly one lands.
func testExactVersionRace(t *testing.T, s store.Store) {
	a := account("exact-race")
	mustCreate(t, s, a)
	u := a.Account.User
	for v := int64(1); v <= 3; v++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for i := range 6 {
			wg.Go(func() {
				data := fmt.Sprint("v", v, "-", i)
				_, err := s.SaveBackup(ctx, v2Save(u, "race", data, v, t0))
				var stale *store.StaleError
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, data)
				} else if !errors.As(err, &stale) || stale.Current != v {
					t.Errorf("version %d: %v, want stale with current %d", v, err, v)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("version %d: %d saves landed", v, len(won))
		}
		if b, err := s.GetBackup(ctx, u, ID("backup:race"), v); err != nil || b.Data != won[0] {
			t.Fatalf("version %d: %+v, %v; want %q", v, b, err, won[0])
		}
	}
}

// A v1 save cannot create a backup under a user with an account; it can
// save an existing v1 backup, and a v2 save can create.
func testV1BesideAccount(t *testing.T, s store.Store) {
	a := account("beside")
	mustCreate(t, s, a)
	u := a.Account.User
	_, err := save(s, u, ID("v1-key"), "v1 data", t0, noLimits)
	expectErr(t, err, store.ErrAccount)
	_, err = s.GetBackup(ctx, u, ID("v1-key"), 0)
	expectErr(t, err, store.ErrNotFound)
	if n, err := s.CountBackups(ctx, u); err != nil || n != 0 {
		t.Fatalf("backups after the refusal: %d, %v", n, err)
	}
	mustV2Save(t, s, v2Save(u, "beside", "v2 data", 1, t0))
	// A v1 user without an account creates as ever.
	v1 := ID("beside-v1")
	mustRegister(t, s, v1)
	mustSave(t, s, v1, ID("v1-key"), "v1 data", t0, noLimits)
}

func testListBackups(t *testing.T, s store.Store) {
	_, err := s.ListBackups(ctx, ID("nobody"))
	expectErr(t, err, store.ErrNotFound)
	v1 := ID("list-v1")
	mustRegister(t, s, v1)
	mustSave(t, s, v1, ID("k"), "data", t0, noLimits)
	_, err = s.ListBackups(ctx, v1)
	expectErr(t, err, store.ErrNotFound)

	a := account("list")
	mustCreate(t, s, a)
	u := a.Account.User
	if list, err := s.ListBackups(ctx, u); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("list of an empty account: %#v, %v", list, err)
	}
	mustV2Save(t, s, v2Save(u, "older", "1", 1, t0))
	mustV2Save(t, s, v2Save(u, "newer", "22", 1, t0.Add(time.Minute)))
	// A time finer than the store keeps is listed as a restore answers it.
	mustV2Save(t, s, v2Save(u, "older", "333", 2, t0.Add(2*time.Minute+1234567*time.Nanosecond)))
	// Another account's backup of the same name is its own.
	b := account("list-other")
	mustCreate(t, s, b)
	mustV2Save(t, s, v2Save(b.Account.User, "older", "4444", 1, t0.Add(3*time.Minute)))

	list, err := s.ListBackups(ctx, u)
	if b, err := s.GetBackup(ctx, u, ID("backup:older"), 0); err != nil || !b.UpdatedAt.Equal(t0.Add(2*time.Minute+time.Millisecond)) {
		t.Fatalf("restore's time: %v, %v", b.UpdatedAt, err)
	}
	want := []store.BackupInfo{{Name: "older", Version: 2, Size: 3, UpdatedAt: t0.Add(2*time.Minute + time.Millisecond)},
		{Name: "newer", Version: 1, Size: 2, UpdatedAt: t0.Add(time.Minute)}}
	if err != nil || !slices.Equal(list, want) {
		t.Fatalf("list = %+v, %v; want %+v", list, err, want)
	}
}

func testAccountUsage(t *testing.T, s store.Store) {
	_, err := s.AccountUsage(ctx, ID("nobody"))
	expectErr(t, err, store.ErrNotFound)
	a := account("usage")
	mustCreate(t, s, a)
	u := a.Account.User
	if got, err := s.AccountUsage(ctx, u); err != nil || got != (store.Usage{}) {
		t.Fatalf("usage of an empty account: %+v, %v", got, err)
	}
	mustV2Save(t, s, v2Save(u, "one", "1234", 1, t0))
	mustV2Save(t, s, v2Save(u, "one", "12", 2, t0))
	mustV2Save(t, s, v2Save(u, "two", "123", 1, t0))
	if got, err := s.AccountUsage(ctx, u); err != nil || got != (store.Usage{BytesUsed: 9, Backups: 2, Versions: 3}) {
		t.Fatalf("usage: %+v, %v", got, err)
	}
}

func testDeleteBackupKeepsAccount(t *testing.T, s store.Store) {
	a := account("keep")
	mustCreate(t, s, a)
	u := a.Account.User
	mustV2Save(t, s, v2Save(u, "only", "data", 1, t0))
	if err := s.RecordEvents(ctx, []store.EventRecord{{User: u, Kind: store.EventFailedAttempt, At: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBackup(ctx, u, ID("backup:only")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(ctx, u); err != nil {
		t.Fatalf("account after its last backup went: %v", err)
	}
	expectSession(t, s, a.Session.Token, t0, u)
	if ev, err := s.Activity(ctx, u, ""); err != nil || len(ev) != 1 {
		t.Fatalf("user-wide activity after the delete: %+v, %v", ev, err)
	}
	if list, err := s.ListBackups(ctx, u); err != nil || len(list) != 0 {
		t.Fatalf("list after the delete: %+v, %v", list, err)
	}
	mustV2Save(t, s, v2Save(u, "only", "again", 1, t0))
	// A v1 user still goes with their last backup.
	v1 := ID("keep-v1")
	mustRegister(t, s, v1)
	mustSave(t, s, v1, ID("k"), "data", t0, noLimits)
	if err := s.DeleteBackup(ctx, v1, ID("k")); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, s, v1)
}

func testDeleteUserAccount(t *testing.T, s store.Store) {
	a := account("gone")
	mustCreate(t, s, a)
	u := a.Account.User
	mustV2Save(t, s, v2Save(u, "b", "data", 1, t0))
	second := store.Session{Token: ID("gone-2"), User: u, Expires: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, second, t0); err != nil {
		t.Fatal(err)
	}
	keep := account("stays")
	mustCreate(t, s, keep)
	if err := s.DeleteUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetAccount(ctx, u)
	expectErr(t, err, store.ErrNotFound)
	expectSession(t, s, a.Session.Token, t0, "")
	expectSession(t, s, second.Token, t0, "")
	_, err = s.GetBackup(ctx, u, ID("backup:b"), 0)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.AccountUsage(ctx, u)
	expectErr(t, err, store.ErrNotFound)
	if st, err := s.Stats(ctx, t0); err != nil || st.Accounts != 1 || st.Users != 1 || st.Versions != 0 {
		t.Fatalf("stats after the delete: %+v, %v", st, err)
	}
	expectSession(t, s, keep.Session.Token, t0, keep.Account.User)
	// The name is free again.
	mustCreate(t, s, a)
}

func testUserActivity(t *testing.T, s store.Store) {
	_, err := s.Activity(ctx, ID("nobody"), "")
	expectErr(t, err, store.ErrNotFound)
	a := account("activity")
	mustCreate(t, s, a)
	u := a.Account.User
	if ev, err := s.Activity(ctx, u, ""); err != nil || ev == nil || len(ev) != 0 {
		t.Fatalf("activity of a new account: %#v, %v", ev, err)
	}
	mustV2Save(t, s, v2Save(u, "b", "data", 1, t0))
	var events []store.EventRecord
	for i := range store.FailedAttemptDepth + 5 {
		events = append(events, store.EventRecord{User: u, Kind: store.EventFailedAttempt, At: t0.Add(time.Duration(i) * time.Minute)})
	}
	events = append(events, store.EventRecord{User: u, Key: ID("backup:b"), Kind: store.EventSaved, At: t0.Add(time.Hour)})
	if err := s.RecordEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Activity(ctx, u, "")
	if err != nil || len(ev) != store.FailedAttemptDepth {
		t.Fatalf("user-wide activity: %d events, %v", len(ev), err)
	}
	for i, e := range ev {
		at := t0.Add(time.Duration(store.FailedAttemptDepth+4-i) * time.Minute)
		if e != (store.Event{Kind: store.EventFailedAttempt, At: at, Count: 1}) {
			t.Fatalf("event %d = %+v, want a failed attempt at %v", i, e, at)
		}
	}
	// The backup's own view has both.
	if ev, err := s.Activity(ctx, u, ID("backup:b")); err != nil || len(ev) != store.FailedAttemptDepth+1 {
		t.Fatalf("backup activity: %d events, %v", len(ev), err)
	}
}

// Rotating the pepper rekeys accounts with everything else: the rekeyed
// verifier is the one the rotated pepper computes, so the account signs in
// with the same key; sessions are dropped; names stay.
func testRekeyAccounts(t *testing.T, s store.Store) {
	old, err := pepper.New([][]byte{[]byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := old.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	const accountID, authKey, recoveryKey, backupID = "alice", "aa11", "bb22", "0123456789abcdef0123456789abcdef"
	a := account("rekey")
	a.Account.User = old.User(accountID)
	a.Account.Verifier, a.Account.RecoveryVerifier = old.Verifier("auth", authKey), old.Verifier("recovery", recoveryKey)
	a.Session = store.Session{Token: old.Session("token"), User: a.Account.User, Expires: t0.Add(time.Hour)}
	mustCreate(t, s, a)
	req := v2Save(a.Account.User, backupID, "data", 1, t0)
	req.Key = old.Backup(backupID)
	mustV2Save(t, s, req)

	if err := s.Rekey(ctx, rotated.Rekey, rotated.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	u := rotated.User(accountID)
	got, err := s.GetAccount(ctx, u)
	want := a.Account
	want.User, want.Verifier, want.RecoveryVerifier = u, rotated.Verifier("auth", authKey), rotated.Verifier("recovery", recoveryKey)
	want.Created, want.Updated = t0, t0
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("account after the rotation: %+v, %v; want %+v", got, err, want)
	}
	_, err = s.GetAccount(ctx, a.Account.User)
	expectErr(t, err, store.ErrNotFound)
	expectSession(t, s, a.Session.Token, t0, "")
	expectSession(t, s, rotated.Session("token"), t0, "")
	if list, err := s.ListBackups(ctx, u); err != nil || len(list) != 1 || list[0].Name != backupID {
		t.Fatalf("list after the rotation: %+v, %v", list, err)
	}
	if b, err := s.GetBackup(ctx, u, rotated.Backup(backupID), 0); err != nil || b.Data != "data" {
		t.Fatalf("backup after the rotation: %+v, %v", b, err)
	}
	// The rekeyed account works: a password change checked against the
	// verifier the rotated pepper computes.
	err = s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: rotated.Verifier("auth", authKey), Now: t0,
		Keys:    store.AccountKeys{KDF: "{}", Verifier: rotated.Verifier("auth", "cc33"), WrappedKey: "w"},
		Session: store.Session{Token: rotated.Session("next"), User: u, Expires: t0.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	expectSession(t, s, rotated.Session("next"), t0, u)
	mustV2Save(t, s, store.SaveRequest{User: u, Key: rotated.Backup(backupID), Name: backupID, Data: "after", Version: 2, Now: t0, Limits: noLimits})
}

func testAccountStats(t *testing.T, s store.Store) {
	mustCreate(t, s, account("s1"))
	mustCreate(t, s, account("s2"))
	mustRegister(t, s, ID("stats-v1"))
	st, err := s.Stats(ctx, t0)
	if err != nil || st.Accounts != 2 || st.Users != 3 {
		t.Fatalf("stats = %+v, %v; want 2 accounts of 3 users", st, err)
	}
}

// testAccountErrorSet: every refusal of the v2 methods is one of the closed
// set, and the right one.
func testAccountErrorSet(t *testing.T, s store.Store) {
	a := account("errors")
	mustCreate(t, s, a)
	u := a.Account.User
	v1 := ID("errors-v1")
	mustRegister(t, s, v1)
	mustSave(t, s, v1, ID("errors-v1-key"), "data", t0, noLimits)
	mustV2Save(t, s, v2Save(u, "e", "data", 1, t0))
	var stale *store.StaleError
	var limit *store.LimitError
	sess := store.Session{Token: ID("errors-new"), User: u, Expires: t0.Add(time.Hour)}
	limited := account("errors-limited")
	limited.Limit = store.HitLimit{Bucket: "errors-bucket", Window: time.Hour, Max: 1}
	if err := s.Hit(ctx, "errors-bucket", time.Hour, 1, t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		err  error
		want any
	}{
		{"CreateAccount of an existing account", s.CreateAccount(ctx, a), store.ErrExists},
		{"CreateAccount of a v1 user", s.CreateAccount(ctx, upgradeAccount(v1)), store.ErrExists},
		{"CreateAccount past its limit", s.CreateAccount(ctx, limited), &limit},
		{"CreateAccount with an unknown invite", s.CreateAccount(ctx, store.NewAccount{Account: account("x").Account,
			Session: account("x").Session, Invite: ID("none"), Now: t0}), store.ErrNotFound},
		{"GetAccount of a v1 user", second(s.GetAccount(ctx, v1)), store.ErrNotFound},
		{"CreateSession of a v1 user", s.CreateSession(ctx, store.Session{Token: ID("e1"), User: v1, Expires: t0.Add(time.Hour)}, t0), store.ErrNotFound},
		{"SessionUser of an unknown token", second(s.SessionUser(ctx, ID("none"), t0)), store.ErrNotFound},
		{"SessionUser of an expired token", second(s.SessionUser(ctx, a.Session.Token, a.Session.Expires)), store.ErrNotFound},
		{"DeleteSession of an unknown token", s.DeleteSession(ctx, ID("none")), store.ErrNotFound},
		{"ChangeKeys with a stale verifier", s.ChangeKeys(ctx, store.KeyChange{User: u, Expect: ID("stale"), Session: sess, Now: t0}), store.ErrNotFound},
		{"ChangeKeys of a v1 user", s.ChangeKeys(ctx, store.KeyChange{User: v1, Expect: "", Session: sess, Now: t0}), store.ErrNotFound},
		{"UpgradeV1 without a v1 backup", s.UpgradeV1(ctx, upgrade("errors", u, ID("none"), "f")), store.ErrNotFound},
		{"UpgradeV1 with another's material", s.UpgradeV1(ctx, upgrade("intruder", v1, ID("errors-v1-key"), "g")), nil},
		{"UpgradeV1 of a v1 user upgraded by another", s.UpgradeV1(ctx, upgrade("late", v1, ID("errors-v1-key"), "g")), store.ErrExists},
		{"ListBackups of a v1 user", second(s.ListBackups(ctx, ID("errors-unknown"))), store.ErrNotFound},
		{"AccountUsage of an unknown user", second(s.AccountUsage(ctx, ID("errors-unknown"))), store.ErrNotFound},
		{"SaveBackup of a stale version", second(s.SaveBackup(ctx, v2Save(u, "e", "x", 1, t0))), &stale},
		{"SaveBackup of a v1 key beside an account", second(save(s, u, ID("errors-v1-new"), "x", t0, noLimits)), store.ErrAccount},
		{"Activity of an unknown user", second(s.Activity(ctx, ID("errors-unknown"), "")), store.ErrNotFound},
	} {
		switch want := c.want.(type) {
		case nil:
			if c.err != nil {
				t.Errorf("%s: %v, want no error", c.what, c.err)
			}
		case error:
			if !errors.Is(c.err, want) {
				t.Errorf("%s: %v, want %v", c.what, c.err, want)
			}
		default:
			if !errors.As(c.err, want) {
				t.Errorf("%s: %v, want a %T", c.what, c.err, want)
			}
		}
		if !inClosedSet(c.err) {
			t.Errorf("%s: %v is outside the closed set", c.what, c.err)
		}
	}
	if b, err := s.GetBackup(ctx, u, ID("backup:e"), 0); err != nil || b.Version != 1 || b.Data != "data" {
		t.Errorf("after the refusals: %+v, %v", b, err)
	}
}

func upgradeAccount(user string) store.NewAccount {
	a := account("v1-taken")
	a.Account.User, a.Session.User = user, user
	return a
}

// Logins racing the account's deletion: each either lands before it (and
// goes with it) or finds no account; none is left behind, and nothing fails
// outside the closed set.
func testSessionDeleteRace(t *testing.T, s store.Store) {
	a := account("session-race")
	mustCreate(t, s, a)
	u := a.Account.User
	var wg sync.WaitGroup
	const n = 12
	errs := make([]error, n+1)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateSession(ctx, store.Session{Token: ID(fmt.Sprint("session-race-", i)), User: u, Expires: t0.Add(time.Hour)}, t0)
		})
	}
	wg.Go(func() { errs[n] = s.DeleteUser(ctx, u) })
	wg.Wait()
	if errs[n] != nil {
		t.Fatalf("delete: %v", errs[n])
	}
	for i, err := range errs[:n] {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("login %d: %v, want success or ErrNotFound", i, err)
		}
		expectSession(t, s, ID(fmt.Sprint("session-race-", i)), t0, "")
	}
}

// v1 saves of new keys racing the user's upgrade: each lands before it (a
// v1 backup the upgrade leaves alone) or is refused with ErrAccount after
// it; the upgrade itself always succeeds.
func testUpgradeRacingV1Saves(t *testing.T, s store.Store) {
	u, k := ID("race-v1-user"), ID("race-v1-key")
	mustRegister(t, s, u)
	versions := v1Backup(t, s, u, k, 2)
	up := upgrade("race-v1", u, k, "race-v1")
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	var upErr error
	for i := range n {
		wg.Go(func() {
			_, errs[i] = save(s, u, ID(fmt.Sprint("race-v1-new-", i)), fmt.Sprint("new ", i), t0, noLimits)
		})
	}
	wg.Go(func() { upErr = s.UpgradeV1(ctx, up) })
	wg.Wait()
	if upErr != nil {
		t.Fatalf("upgrade: %v", upErr)
	}
	expectMoved(t, s, up, versions)
	for i, err := range errs {
		key := ID(fmt.Sprint("race-v1-new-", i))
		b, getErr := s.GetBackup(ctx, u, key, 0)
		switch {
		case err == nil:
			if getErr != nil || b.Data != fmt.Sprint("new ", i) {
				t.Errorf("save %d succeeded but reads %+v, %v", i, b, getErr)
			}
		case errors.Is(err, store.ErrAccount):
			if !errors.Is(getErr, store.ErrNotFound) {
				t.Errorf("save %d refused but its backup exists: %v", i, getErr)
			}
		default:
			t.Errorf("save %d: %v, want success or ErrAccount", i, err)
		}
	}
}
