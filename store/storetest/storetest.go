// Package storetest is the conformance suite every store.Store must pass, so
// that both backends return the same results and errors for the same
// situations.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/store"
)

// Factory returns a fresh, empty store; it registers its own cleanup.
type Factory func(t *testing.T) store.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := map[string]func(*testing.T, store.Store){
		"Register":             testRegister,
		"RegisterRace":         testRegisterRace,
		"SaveAndGet":           testSaveAndGet,
		"SaveUnknownUser":      testSaveUnknownUser,
		"SameKeyOtherUser":     testSameKeyOtherUser,
		"HistoryYieldsQuota":   testHistoryYields,
		"NewKeyRace":           testNewKeyRace,
		"History":              testHistory,
		"NoHistory":            testNoHistory,
		"IfMatch":              testIfMatch,
		"IfMatchRace":          testIfMatchRace,
		"SaveRace":             testSaveRace,
		"SavesPerHourAndDay":   testSaveRate,
		"MaxBackupsPerUser":    testMaxBackups,
		"MaxBackupsPerAddr":    testMaxBackupsPerAddress,
		"Quota":                testQuota,
		"Delete":               testDelete,
		"Usage":                testUsage,
		"Activity":             testActivity,
		"Nonce":                testNonce,
		"NonceInSave":          testNonceInSave,
		"Hit":                  testHit,
		"Invites":              testInvites,
		"Fingerprint":          testFingerprint,
		"StatsAndPing":         testStats,
		"Rekey":                testRekey,
		"Prune":                testPrune,
		"ErrorsAreClosedSet":   testErrorSet,
		"ActivityUnknownUser":  testActivityUnknown,
		"UsageFigures":         testUsageFigures,
		"AdminList":            testAdminList,
		"AdminListBadQuery":    testAdminListBadQuery,
		"DeleteUser":           testDeleteUser,
		"ActivityFailedWindow": testActivityFailedWindow,
		"RegisterCounted":      testRegisterCounted,
	}
	for name, fn := range accountTests {
		tests[name] = fn
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t))
		})
	}
}

var ctx = context.Background()

// t0 is a fixed clock so that windows are exact.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// ID returns a distinct 64-hex id, as the pepper would produce.
func ID(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

var noLimits = store.SaveLimits{HistoryDepth: 10}

func mustRegister(t *testing.T, s store.Store, user string) {
	t.Helper()
	if err := s.Register(ctx, user, t0); err != nil {
		t.Fatalf("register: %v", err)
	}
}

func save(s store.Store, user, key, data string, at time.Time, l store.SaveLimits) (store.SaveResult, error) {
	return s.SaveBackup(ctx, store.SaveRequest{User: user, Key: key, Data: data, Now: at, Limits: l})
}

func mustSave(t *testing.T, s store.Store, user, key, data string, at time.Time, l store.SaveLimits) store.SaveResult {
	t.Helper()
	r, err := save(s, user, key, data, at, l)
	if err != nil {
		t.Fatalf("save %q: %v", data, err)
	}
	return r
}

// expectData checks that the newest version of key is data.
func expectData(t *testing.T, s store.Store, user, key, data string) {
	t.Helper()
	b, err := s.GetBackup(ctx, user, key, 0)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if b.Data != data {
		t.Fatalf("data = %.40q, want %.40q", b.Data, data)
	}
}

func expectErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func expectLimit(t *testing.T, err error, min, max time.Duration) {
	t.Helper()
	var le *store.LimitError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *store.LimitError", err)
	}
	if le.RetryAfter < min || le.RetryAfter > max {
		t.Fatalf("RetryAfter = %v, want between %v and %v", le.RetryAfter, min, max)
	}
}

func testRegister(t *testing.T, s store.Store) {
	u := ID("u")
	mustRegister(t, s, u)
	expectErr(t, s.Register(ctx, u, t0), store.ErrExists)
}

// Only registrations that create a user count against the bucket; a refused
// one creates none.
func testRegisterCounted(t *testing.T, s store.Store) {
	taken, b := ID("taken"), "newusers:"+ID("addr")
	mustRegister(t, s, taken)
	for range 3 {
		expectErr(t, s.RegisterCounted(ctx, taken, b, time.Hour, 2, t0), store.ErrExists)
	}
	for i := range 2 {
		if err := s.RegisterCounted(ctx, ID(fmt.Sprint("new", i)), b, time.Hour, 2, t0); err != nil {
			t.Fatal(err)
		}
	}
	expectLimit(t, s.RegisterCounted(ctx, ID("third"), b, time.Hour, 2, t0), 59*time.Minute, 61*time.Minute)
	if err := s.RegisterCounted(ctx, ID("third"), b, time.Hour, 2, t0.Add(61*time.Minute)); err != nil {
		t.Fatalf("the refused user was kept, or the window never ends: %v", err)
	}
	if err := s.RegisterCounted(ctx, ID("unbounded"), b, time.Hour, 0, t0); err != nil {
		t.Fatal(err)
	}
}

func testRegisterRace(t *testing.T, s store.Store) {
	u := ID("racer")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exists := 0, 0
	for range 16 {
		wg.Go(func() {
			err := s.Register(ctx, u, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrExists):
				exists++
			default:
				t.Errorf("register: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || exists != 15 {
		t.Fatalf("ok=%d exists=%d, want 1 and 15", ok, exists)
	}
}

func testSaveAndGet(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	r := mustSave(t, s, u, k, "blob-1", t0, noLimits)
	if r.Version != 1 || !r.UpdatedAt.Equal(t0) {
		t.Fatalf("result = %+v", r)
	}
	b, err := s.GetBackup(ctx, u, k, 0)
	if err != nil || b.Data != "blob-1" || b.Version != 1 || !b.UpdatedAt.Equal(t0) {
		t.Fatalf("get = %+v, %v", b, err)
	}
	r = mustSave(t, s, u, k, "blob-2", t0.Add(time.Minute), noLimits)
	if r.Version != 2 {
		t.Fatalf("version = %d, want 2", r.Version)
	}
	expectData(t, s, u, k, "blob-2")
	// The same key under another user, and an unknown key, are not found.
	_, err = s.GetBackup(ctx, ID("other"), k, 0)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.GetBackup(ctx, u, ID("nokey"), 0)
	expectErr(t, err, store.ErrNotFound)
}

func testSaveUnknownUser(t *testing.T, s store.Store) {
	_, err := save(s, ID("ghost"), ID("k"), "x", t0, noLimits)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.GetBackup(ctx, ID("ghost"), ID("k"), 0)
	expectErr(t, err, store.ErrNotFound)
}

// A backup is (user, key): the same storage key under another user is just
// another backup, created exactly as a fresh key would be, and neither
// touches, reveals nor spends the budget of the other.
func testSameKeyOtherUser(t *testing.T, s store.Store) {
	owner, other, k := ID("owner"), ID("other"), ID("k")
	mustRegister(t, s, owner)
	mustRegister(t, s, other)
	l := store.SaveLimits{PerHour: 2, HistoryDepth: 10, MaxBackupsPerUser: 5, QuotaBytes: 100}
	mustSave(t, s, owner, k, "mine-1", t0, l)
	mustSave(t, s, owner, k, "mine-2", t0, l) // the owner's hourly budget is spent
	fresh := mustSave(t, s, other, ID("fresh"), "theirs", t0, l)
	same := mustSave(t, s, other, k, "theirs", t0, l)
	if same != fresh || same.Version != 1 || same.Pruned != 0 {
		t.Fatalf("save under a key another user has = %+v; a fresh key = %+v", same, fresh)
	}
	expectData(t, s, owner, k, "mine-2")
	expectData(t, s, other, k, "theirs")
	if vs, err := s.Versions(ctx, owner, k); err != nil || len(vs) != 2 {
		t.Fatalf("owner's versions = %+v, %v", vs, err)
	}
	if err := s.DeleteBackup(ctx, other, k); err != nil {
		t.Fatal(err)
	}
	expectData(t, s, owner, k, "mine-2")
	if b, err := s.GetBackup(ctx, owner, k, 1); err != nil || b.Data != "mine-1" {
		t.Fatalf("owner's history after the other's delete: %+v, %v", b, err)
	}
	_, err := s.GetBackup(ctx, other, k, 0)
	expectErr(t, err, store.ErrNotFound)
}

// Users racing to create one storage key each get their own backup.
func testNewKeyRace(t *testing.T, s store.Store) {
	for round := range 4 {
		k := ID(fmt.Sprint("contested-", round))
		users := []string{ID(fmt.Sprint("a", round)), ID(fmt.Sprint("b", round)), ID(fmt.Sprint("c", round))}
		for _, u := range users {
			mustRegister(t, s, u)
		}
		errs := make([]error, len(users))
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Go(func() { _, errs[i] = save(s, u, k, "x"+u, t0, noLimits) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			expectData(t, s, users[i], k, "x"+users[i])
		}
	}
}

func testHistory(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	l := store.SaveLimits{HistoryDepth: 2}
	for i := 1; i <= 5; i++ {
		mustSave(t, s, u, k, fmt.Sprintf("v%d", i), t0.Add(time.Duration(i)*time.Minute), l)
	}
	vs, err := s.Versions(ctx, u, k)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d@%d:%d", v.Version, v.UpdatedAt.Sub(t0)/time.Minute, v.Size))
	}
	if want := "5@5:2 4@4:2 3@3:2"; strings.Join(got, " ") != want {
		t.Fatalf("versions = %v, want %s", got, want)
	}
	for v, want := range map[int64]string{5: "v5", 4: "v4", 3: "v3"} {
		b, err := s.GetBackup(ctx, u, k, v)
		if err != nil || b.Data != want || b.Version != v {
			t.Fatalf("version %d = %+v, %v", v, b, err)
		}
	}
	_, err = s.GetBackup(ctx, u, k, 2) // pruned
	expectErr(t, err, store.ErrNotFound)
	_, err = s.GetBackup(ctx, ID("other"), k, 4)
	expectErr(t, err, store.ErrNotFound)
	_, err = s.Versions(ctx, ID("other"), k)
	expectErr(t, err, store.ErrNotFound)
}

func testNoHistory(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	l := store.SaveLimits{}
	mustSave(t, s, u, k, "a", t0, l)
	mustSave(t, s, u, k, "b", t0, l)
	vs, err := s.Versions(ctx, u, k)
	if err != nil || len(vs) != 1 || vs[0].Version != 2 {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
}

func testIfMatch(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	_, err := s.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: "x", IfMatch: 3, Now: t0, Limits: noLimits})
	var se *store.StaleError
	if !errors.As(err, &se) || se.Current != 0 {
		t.Fatalf("err = %v, want stale with current 0", err)
	}
	mustSave(t, s, u, k, "a", t0, noLimits)
	mustSave(t, s, u, k, "b", t0, noLimits)
	_, err = s.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: "stale", IfMatch: 1, Now: t0, Limits: noLimits})
	if !errors.As(err, &se) || se.Current != 2 {
		t.Fatalf("err = %v, want stale with current 2", err)
	}
	expectData(t, s, u, k, "b")
	r, err := s.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: "c", IfMatch: 2, Now: t0, Limits: noLimits})
	if err != nil || r.Version != 3 {
		t.Fatalf("conditional save = %+v, %v", r, err)
	}
}

func testIfMatchRace(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	mustSave(t, s, u, k, "base", t0, noLimits)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: fmt.Sprintf("device-%d", i),
				IfMatch: 1, Now: t0, Limits: noLimits})
		})
	}
	wg.Wait()
	var se *store.StaleError
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.As(err, &se) && se.Current == 2:
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d saves won, want exactly 1 (errors %v)", won, errs)
	}
}

func testSaveRace(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	a, b := strings.Repeat("a", 300_000), strings.Repeat("b", 300_000)
	var wg sync.WaitGroup
	for _, d := range []string{a, b, a, b} {
		wg.Go(func() {
			if _, err := save(s, u, k, d, t0, noLimits); err != nil {
				t.Errorf("save: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetBackup(ctx, u, k, 0)
	if err != nil || (got.Data != a && got.Data != b) || got.Version != 4 {
		t.Fatalf("after racing saves: version %d, len %d, err %v: not one whole blob", got.Version, len(got.Data), err)
	}
}

func testSaveRate(t *testing.T, s store.Store) {
	u, k, k2 := ID("u"), ID("k"), ID("k2")
	mustRegister(t, s, u)
	l := store.SaveLimits{PerHour: 5, PerDay: 20}
	at := t0
	for i := range 5 {
		mustSave(t, s, u, k, fmt.Sprint(i), at.Add(time.Duration(i)*time.Minute), l)
	}
	_, err := save(s, u, k, "sixth", at.Add(10*time.Minute), l)
	expectLimit(t, err, 49*time.Minute, 51*time.Minute) // the first leaves the hour at t0+60m
	expectData(t, s, u, k, "4")
	// Another backup of the same user has its own budget.
	mustSave(t, s, u, k2, "other", at.Add(10*time.Minute), l)
	// Four more hours of five saves reach twenty in the day.
	for h := 1; h <= 3; h++ {
		for i := range 5 {
			mustSave(t, s, u, k, "x", at.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Minute), l)
		}
	}
	_, err = save(s, u, k, "21st", at.Add(5*time.Hour), l)
	expectLimit(t, err, 18*time.Hour, 20*time.Hour)
	mustSave(t, s, u, k, "next day", at.Add(25*time.Hour), l)
}

func testMaxBackups(t *testing.T, s store.Store) {
	u := ID("u")
	mustRegister(t, s, u)
	l := store.SaveLimits{MaxBackupsPerUser: 2}
	mustSave(t, s, u, ID("k1"), "1", t0, l)
	mustSave(t, s, u, ID("k2"), "2", t0, l)
	_, err := save(s, u, ID("k3"), "3", t0, l)
	expectLimit(t, err, time.Hour, 48*time.Hour)
	_, err = s.GetBackup(ctx, u, ID("k3"), 0)
	expectErr(t, err, store.ErrNotFound)
	mustSave(t, s, u, ID("k1"), "1b", t0, l) // existing keys keep working
}

// Backups are counted per creating address under a higher per-user bound:
// one address filling its share leaves another's intact, and all
// addresses together still stop at the per-user bound.
func testMaxBackupsPerAddress(t *testing.T, s store.Store) {
	u := ID("u")
	mustRegister(t, s, u)
	l := store.SaveLimits{MaxBackupsPerUser: 5, MaxBackupsPerAddress: 2}
	create := func(creator, key string) error {
		_, err := s.SaveBackup(ctx, store.SaveRequest{User: u, Key: ID(key), Data: key, Now: t0, Limits: l, Creator: creator})
		return err
	}
	for _, k := range []string{"s1", "s2"} {
		if err := create("aaaaaa", k); err != nil {
			t.Fatal(err)
		}
	}
	var le *store.LimitError
	if err := create("aaaaaa", "s3"); !errors.As(err, &le) || le.Reason != store.ReasonBackupsPerAddress {
		t.Fatalf("third backup from one address: %v, want %q", err, store.ReasonBackupsPerAddress)
	}
	if err := create("bbbbbb", "owner"); err != nil {
		t.Fatalf("first backup from another address: %v", err)
	}
	if err := create("cccccc", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := create("dddddd", "d1"); err != nil {
		t.Fatal(err)
	}
	if err := create("eeeeee", "e1"); !errors.As(err, &le) || le.Reason != store.ReasonBackupsPerUser {
		t.Fatalf("sixth backup of the user: %v, want %q", err, store.ReasonBackupsPerUser)
	}
	// Existing backups keep saving from anywhere.
	if _, err := s.SaveBackup(ctx, store.SaveRequest{User: u, Key: ID("s1"), Data: "again", Now: t0, Limits: l, Creator: "eeeeee"}); err != nil {
		t.Fatal(err)
	}
}

func testQuota(t *testing.T, s store.Store) {
	u := ID("u")
	mustRegister(t, s, u)
	l := store.SaveLimits{QuotaBytes: 100, HistoryDepth: 10}
	mustSave(t, s, u, ID("k1"), strings.Repeat("a", 60), t0, l)
	_, err := save(s, u, ID("k2"), strings.Repeat("b", 41), t0, l)
	expectErr(t, err, store.ErrQuota)
	_, err = s.GetBackup(ctx, u, ID("k2"), 0)
	expectErr(t, err, store.ErrNotFound)
	// A version that alone exceeds the quota is refused, and changes nothing.
	_, err = save(s, u, ID("k1"), strings.Repeat("c", 101), t0, l)
	expectErr(t, err, store.ErrQuota)
	expectData(t, s, u, ID("k1"), strings.Repeat("a", 60))

	// An existing backup is judged by its own bytes, so backups that someone
	// else created under the same user cannot stop it from saving; a new
	// backup by the newest versions of those created from its address.
	v := ID("victim")
	mustRegister(t, s, v)
	mustSave(t, s, v, ID("own"), strings.Repeat("o", 30), t0, l)
	mustSave(t, s, v, ID("junk"), strings.Repeat("j", 70), t0, l) // the newest total is now 100
	_, err = save(s, v, ID("junk2"), "x", t0, l)
	expectErr(t, err, store.ErrQuota)
	mustSave(t, s, v, ID("own"), strings.Repeat("p", 30), t0, l) // 60 of its own
	if _, err := s.SaveBackup(ctx, store.SaveRequest{User: v, Key: ID("elsewhere"), Data: "x", Now: t0, Limits: l,
		Creator: "abcdef"}); err != nil {
		t.Fatalf("a new backup from another address: %v", err)
	}
}

// History yields to the newest save: a backup near the quota saved again and
// again keeps saving, the oldest versions dropped (and reported as pruned)
// so that the backup, history included, stays within the quota.
func testHistoryYields(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	l := store.SaveLimits{QuotaBytes: 100, HistoryDepth: 10}
	var pruned int64
	for i := 1; i <= 12; i++ {
		r, err := save(s, u, k, fmt.Sprintf("%02d", i)+strings.Repeat("x", 38), t0.Add(time.Duration(i)*time.Minute), l)
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		pruned += r.Pruned
	}
	vs, err := s.Versions(ctx, u, k)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, v := range vs {
		got = append(got, v.Version)
	}
	if fmt.Sprint(got) != "[12 11]" || pruned != 10 {
		t.Fatalf("versions %v, %d pruned; want [12 11] and 10", got, pruned)
	}
	if b, err := s.GetBackup(ctx, u, k, 11); err != nil || !strings.HasPrefix(b.Data, "11") {
		t.Fatalf("version 11: %+v, %v", b, err)
	}
	if got, err := s.Usage(ctx, u, k); err != nil || got.BytesUsed != 80 || got.Versions != 2 {
		t.Fatalf("usage = %+v, %v", got, err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	u, k1, k2 := ID("u"), ID("k1"), ID("k2")
	mustRegister(t, s, u)
	mustSave(t, s, u, k1, "one", t0, noLimits)
	mustSave(t, s, u, k1, "one-b", t0, noLimits)
	mustSave(t, s, u, k2, "two", t0, noLimits)
	expectErr(t, s.DeleteBackup(ctx, u, ID("nokey")), store.ErrNotFound)
	if err := s.DeleteBackup(ctx, u, k1); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetBackup(ctx, u, k1, 1)
	expectErr(t, err, store.ErrNotFound)
	expectData(t, s, u, k2, "two") // one key never deletes another's backup
	expectErr(t, s.Register(ctx, u, t0), store.ErrExists)
	if err := s.DeleteBackup(ctx, u, k2); err != nil {
		t.Fatal(err)
	}
	// The last backup took the user with it.
	if err := s.Register(ctx, u, t0); err != nil {
		t.Fatalf("register after the user was removed: %v", err)
	}
	st, _ := s.Stats(ctx, t0)
	if st.Backups != 0 || st.Versions != 0 || st.StoredBytes != 0 {
		t.Fatalf("stats after delete = %+v", st)
	}
}

func testUsage(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	mustSave(t, s, u, k, "12345", t0, noLimits)
	mustSave(t, s, u, k, "123", t0, noLimits)
	mustSave(t, s, u, ID("k2"), "1", t0, noLimits)
	got, err := s.Usage(ctx, u, k)
	if err != nil || got != (store.Usage{BytesUsed: 9, Backups: 2, Versions: 3}) {
		t.Fatalf("usage = %+v, %v", got, err)
	}
	_, err = s.Usage(ctx, u, ID("nokey"))
	expectErr(t, err, store.ErrNotFound)
}

func testActivity(t *testing.T, s store.Store) {
	u, k, k2 := ID("u"), ID("k"), ID("k2")
	mustRegister(t, s, u)
	mustSave(t, s, u, k, "x", t0, noLimits)
	mustSave(t, s, u, k2, "y", t0, noLimits)
	at := t0.Add(30 * time.Second)
	err := s.RecordEvents(ctx, []store.EventRecord{
		{User: u, Key: k, Kind: store.EventSaved, At: at},
		{User: u, Key: k, Kind: store.EventRestored, At: at},
		{User: u, Key: k, Kind: store.EventRestored, At: at.Add(10 * time.Second)},
		{User: u, Key: k, Kind: store.EventRestored, At: at.Add(20 * time.Second), Count: 3},
		{User: u, Kind: store.EventFailedAttempt, At: at.Add(2 * time.Minute)},
		{User: u, Key: k2, Kind: store.EventSaved, At: at.Add(3 * time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Activity(ctx, u, k)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ev {
		got = append(got, fmt.Sprintf("%s@%s×%d", e.Kind, e.At.Format("15:04:05"), e.Count))
	}
	want := "failed_attempt@12:02:00×1 restored@12:00:00×5 saved@12:00:00×1"
	if strings.Join(got, " ") != want {
		t.Fatalf("activity = %v, want %s", got, want)
	}
	// Only the backup's last ActivityDepth events are kept, besides the
	// failed attempt, which has a window of its own.
	var many []store.EventRecord
	for i := range store.ActivityDepth + 10 {
		many = append(many, store.EventRecord{User: u, Key: k, Kind: store.EventRestored, At: t0.Add(time.Duration(i+10) * time.Minute)})
	}
	if err := s.RecordEvents(ctx, many); err != nil {
		t.Fatal(err)
	}
	ev, _ = s.Activity(ctx, u, k)
	if len(ev) != store.ActivityDepth+1 || !ev[0].At.Equal(t0.Add(time.Duration(store.ActivityDepth+19)*time.Minute)) {
		t.Fatalf("kept %d events, newest %v", len(ev), ev[0].At)
	}
	_, err = s.Activity(ctx, ID("other"), k)
	expectErr(t, err, store.ErrNotFound)
}

// A stranger's failed attempts (user-wide) keep a window of their own: many
// of them never push the backup's own events out of the log.
func testActivityFailedWindow(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	mustSave(t, s, u, k, "x", t0, noLimits)
	var evs []store.EventRecord
	for i := range store.ActivityDepth {
		evs = append(evs, store.EventRecord{User: u, Key: k, Kind: store.EventRestored, At: t0.Add(time.Duration(i) * time.Minute)})
	}
	for i := range store.ActivityDepth + 10 {
		evs = append(evs, store.EventRecord{User: u, Kind: store.EventFailedAttempt, At: t0.Add(time.Duration(100+i) * time.Minute)})
	}
	if err := s.RecordEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Activity(ctx, u, k)
	if err != nil {
		t.Fatal(err)
	}
	own, failed := 0, 0
	for i, e := range ev {
		if i > 0 && e.At.After(ev[i-1].At) {
			t.Fatalf("not newest first at %d", i)
		}
		if e.Kind == store.EventFailedAttempt {
			failed++
		} else {
			own++
		}
	}
	if own != store.ActivityDepth || failed != store.FailedAttemptDepth {
		t.Fatalf("activity holds %d own events and %d failed attempts, want %d and %d",
			own, failed, store.ActivityDepth, store.FailedAttemptDepth)
	}
}

func testActivityUnknown(t *testing.T, s store.Store) {
	// Events for users that do not exist are dropped, not stored.
	err := s.RecordEvents(ctx, []store.EventRecord{{User: ID("ghost"), Kind: store.EventFailedAttempt, At: t0}})
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, s, ID("ghost"))
	mustSave(t, s, ID("ghost"), ID("k"), "x", t0, noLimits)
	ev, err := s.Activity(ctx, ID("ghost"), ID("k"))
	if err != nil || len(ev) != 0 {
		t.Fatalf("activity = %+v, %v; want none", ev, err)
	}
}

func testNonce(t *testing.T, s store.Store) {
	n := ID("sig")
	if err := s.UseNonce(ctx, n, t0.Add(10*time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	expectErr(t, s.UseNonce(ctx, n, t0.Add(11*time.Minute), t0.Add(time.Minute)), store.ErrReplay)
	if err := s.UseNonce(ctx, n, t0.Add(30*time.Minute), t0.Add(20*time.Minute)); err != nil {
		t.Fatalf("expired nonce reused: %v", err)
	}
}

// A save carrying a replay record writes it in its own transaction: the same
// record refuses a second save (and UseNonce) with ErrReplay, and a save
// that fails leaves no record behind.
func testNonceInSave(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	signedSave := func(nonce, data string, ifMatch int64) error {
		_, err := s.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: data, Now: t0, IfMatch: ifMatch,
			Limits: store.SaveLimits{HistoryDepth: 10}, Nonce: nonce, NonceExpires: t0.Add(5 * time.Minute)})
		return err
	}
	if err := signedSave(ID("sig-1"), "one", 0); err != nil {
		t.Fatal(err)
	}
	if err := signedSave(ID("sig-2"), "two", 0); err != nil {
		t.Fatal(err)
	}
	expectErr(t, signedSave(ID("sig-1"), "one", 0), store.ErrReplay)
	expectData(t, s, u, k, "two")
	if vs, err := s.Versions(ctx, u, k); err != nil || len(vs) != 2 {
		t.Fatalf("versions after a refused replay: %d, %v", len(vs), err)
	}
	expectErr(t, s.UseNonce(ctx, ID("sig-2"), t0.Add(5*time.Minute), t0.Add(time.Minute)), store.ErrReplay)

	// A stale save rolls back, its record with it.
	var stale *store.StaleError
	if err := signedSave(ID("sig-3"), "three", 1); !errors.As(err, &stale) {
		t.Fatalf("stale save: %v", err)
	}
	if err := s.UseNonce(ctx, ID("sig-3"), t0.Add(5*time.Minute), t0); err != nil {
		t.Fatalf("a failed save left its replay record: %v", err)
	}
}

func testHit(t *testing.T, s store.Store) {
	b := "ip:" + ID("addr")
	for i := range 3 {
		if err := s.Hit(ctx, b, time.Hour, 3, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	expectLimit(t, s.Hit(ctx, b, time.Hour, 3, t0.Add(5*time.Minute)), 54*time.Minute, 56*time.Minute)
	if err := s.Hit(ctx, "ip:"+ID("other"), time.Hour, 3, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Hit(ctx, b, time.Hour, 3, t0.Add(61*time.Minute)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if err := s.Hit(ctx, b, time.Hour, 0, t0); err != nil {
		t.Fatalf("max 0 is off: %v", err)
	}
}

func testInvites(t *testing.T, s store.Store) {
	code := ID("code")
	if err := s.CreateInvite(ctx, code, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, s, ID("existing"))
	expectErr(t, s.UseInvite(ctx, code, ID("existing"), t0), store.ErrExists)
	if err := s.UseInvite(ctx, code, ID("new"), t0); err != nil {
		t.Fatalf("invite left unused by a failed registration: %v", err)
	}
	expectErr(t, s.Register(ctx, ID("new"), t0), store.ErrExists)
	expectErr(t, s.UseInvite(ctx, code, ID("third"), t0), store.ErrNotFound)
	old := ID("old")
	if err := s.CreateInvite(ctx, old, t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	expectErr(t, s.UseInvite(ctx, old, ID("late"), t0.Add(2*time.Minute)), store.ErrNotFound)
}

func testFingerprint(t *testing.T, s store.Store) {
	for i, c := range []struct {
		fp   string
		want bool
	}{{"fp-1", true}, {"fp-1", true}, {"fp-2", false}} {
		ok, err := s.CheckFingerprint(ctx, c.fp)
		if err != nil || ok != c.want {
			t.Fatalf("check %d (%s) = %v, %v; want %v", i, c.fp, ok, err, c.want)
		}
	}
}

func testStats(t *testing.T, s store.Store) {
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, s, ID("a"))
	mustRegister(t, s, ID("b"))
	mustSave(t, s, ID("a"), ID("k"), "1234", t0, noLimits)
	mustSave(t, s, ID("a"), ID("k"), "12", t0, noLimits)
	st, err := s.Stats(ctx, t0)
	if err != nil || !reflect.DeepEqual(st, store.Stats{Users: 2, Backups: 1, Versions: 2, StoredBytes: 6, NewestBytes: 2,
		HistoryBytes: 4, LargestBackup: 2, UsersWithBackups: 1, Today: map[string]int64{}}) {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

func testRekey(t *testing.T, s store.Store) {
	u, k := ID("u"), ID("k")
	mustRegister(t, s, u)
	mustSave(t, s, u, k, "v1", t0, noLimits)
	mustSave(t, s, u, k, "v2", t0, noLimits)
	if err := s.RecordEvents(ctx, []store.EventRecord{{User: u, Key: k, Kind: store.EventSaved, At: t0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckFingerprint(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	re := func(id string) string { return ID("re:" + id) }
	if err := s.Rekey(ctx, re, "new"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetBackup(ctx, u, k, 0)
	expectErr(t, err, store.ErrNotFound)
	expectData(t, s, re(u), re(k), "v2")
	if b, err := s.GetBackup(ctx, re(u), re(k), 1); err != nil || b.Data != "v1" {
		t.Fatalf("history after rekey: %+v, %v", b, err)
	}
	if ev, err := s.Activity(ctx, re(u), re(k)); err != nil || len(ev) != 1 {
		t.Fatalf("activity after rekey: %+v, %v", ev, err)
	}
	if ok, err := s.CheckFingerprint(ctx, "new"); !ok || err != nil {
		t.Fatalf("fingerprint after rekey: %v, %v", ok, err)
	}
}

func testPrune(t *testing.T, s store.Store) {
	if err := s.UseNonce(ctx, "n", t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Hit(ctx, "b", time.Hour, 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(ctx, t0.Add(26*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Both records are gone: the nonce is usable again with an old clock, and
	// the bucket has room again inside its old window.
	if err := s.UseNonce(ctx, "n", t0.Add(time.Minute), t0); err != nil {
		t.Fatalf("nonce survived prune: %v", err)
	}
	if err := s.Hit(ctx, "b", time.Hour, 1, t0); err != nil {
		t.Fatalf("hit survived prune: %v", err)
	}
}

// testErrorSet: a refused operation reports only the documented errors.
func testErrorSet(t *testing.T, s store.Store) {
	owner, other, stranger := ID("err-owner"), ID("err-other"), ID("err-unregistered")
	key, otherKey, none := ID("err-key"), ID("err-other-key"), ID("err-none")
	mustRegister(t, s, owner)
	mustRegister(t, s, other)
	mustSave(t, s, owner, key, "AAAA", t0, noLimits)
	mustSave(t, s, other, otherKey, "BBBB", t0, noLimits)
	// A user of its own for the save limits, each reached by a first save.
	limited, perHour, perDay := ID("err-limited"), store.SaveLimits{PerHour: 1, HistoryDepth: 1}, store.SaveLimits{PerDay: 1, HistoryDepth: 1}
	mustRegister(t, s, limited)
	mustSave(t, s, limited, ID("err-hourly"), "DDDD", t0, perHour)
	mustSave(t, s, limited, ID("err-daily"), "DDDD", t0.Add(2*time.Hour), perDay)
	var stale *store.StaleError
	var limit *store.LimitError
	// Each method's every error outcome, and the exact member of the closed
	// set it must be (a sentinel by errors.Is, or a type by errors.As).
	for _, c := range []struct {
		what string
		err  error
		want any // a sentinel, **store.StaleError, **store.LimitError, or nil
	}{
		{"Register of a registered user", s.Register(ctx, owner, t0), store.ErrExists},
		{"SaveBackup of an unknown user", second(save(s, stranger, none, "CCCC", t0, noLimits)), store.ErrNotFound},
		{"SaveBackup past the backups per address", second(s.SaveBackup(ctx, store.SaveRequest{User: owner, Key: none, Data: "CCCC", Now: t0, Creator: "", Limits: store.SaveLimits{MaxBackupsPerAddress: 1, HistoryDepth: 1}})), &limit},
		{"SaveBackup on a stale If-Match", second(s.SaveBackup(ctx, store.SaveRequest{User: owner, Key: key, Data: "CCCC", IfMatch: 9, Now: t0, Limits: noLimits})), &stale},
		{"SaveBackup past the quota", second(save(s, owner, key, "CCCCCCCC", t0, store.SaveLimits{QuotaBytes: 6, HistoryDepth: 1})), store.ErrQuota},
		{"SaveBackup past the hourly limit", second(save(s, limited, ID("err-hourly"), "EEEE", t0.Add(time.Minute), perHour)), &limit},
		{"SaveBackup past the daily limit", second(save(s, limited, ID("err-daily"), "EEEE", t0.Add(3*time.Hour), perDay)), &limit},
		{"SaveBackup past the backups per user", second(save(s, owner, none, "CCCC", t0, store.SaveLimits{MaxBackupsPerUser: 1, HistoryDepth: 1})), &limit},
		{"GetBackup of an unknown user", second(s.GetBackup(ctx, stranger, key, 0)), store.ErrNotFound},
		{"GetBackup of an unknown key", second(s.GetBackup(ctx, owner, none, 0)), store.ErrNotFound},
		{"GetBackup of another user's key", second(s.GetBackup(ctx, owner, otherKey, 0)), store.ErrNotFound},
		{"GetBackup of an unknown version", second(s.GetBackup(ctx, owner, key, 99)), store.ErrNotFound},
		{"Versions of an unknown user", second(s.Versions(ctx, stranger, key)), store.ErrNotFound},
		{"Versions of an unknown key", second(s.Versions(ctx, owner, none)), store.ErrNotFound},
		{"Versions of another user's key", second(s.Versions(ctx, owner, otherKey)), store.ErrNotFound},
		{"Usage of an unknown user", second(s.Usage(ctx, stranger, key)), store.ErrNotFound},
		{"Usage of an unknown key", second(s.Usage(ctx, owner, none)), store.ErrNotFound},
		{"Usage of another user's key", second(s.Usage(ctx, owner, otherKey)), store.ErrNotFound},
		{"Activity of an unknown user", second(s.Activity(ctx, stranger, key)), store.ErrNotFound},
		{"Activity of an unknown key", second(s.Activity(ctx, owner, none)), store.ErrNotFound},
		{"Activity of another user's key", second(s.Activity(ctx, owner, otherKey)), store.ErrNotFound},
		{"DeleteBackup of an unknown user", s.DeleteBackup(ctx, stranger, key), store.ErrNotFound},
		{"DeleteBackup of an unknown key", s.DeleteBackup(ctx, owner, none), store.ErrNotFound},
		{"DeleteBackup of another user's key", s.DeleteBackup(ctx, owner, otherKey), store.ErrNotFound},
		{"RecordEvents of an unknown user (dropped)", s.RecordEvents(ctx, []store.EventRecord{{User: stranger, Key: key, Kind: store.EventSaved, At: t0}}), nil},
		{"UseNonce, first use", s.UseNonce(ctx, ID("nonce"), t0.Add(time.Minute), t0), nil},
		{"UseNonce, replayed", s.UseNonce(ctx, ID("nonce"), t0.Add(time.Minute), t0), store.ErrReplay},
		{"UseNonce, once expired", s.UseNonce(ctx, ID("nonce"), t0.Add(3*time.Minute), t0.Add(2*time.Minute)), nil},
		{"Hit, under the limit", s.Hit(ctx, "err-bucket", time.Hour, 1, t0), nil},
		{"Hit, over the limit", s.Hit(ctx, "err-bucket", time.Hour, 1, t0), &limit},
		{"CreateInvite", s.CreateInvite(ctx, ID("invite"), t0.Add(time.Hour), t0), nil},
		{"UseInvite of an unknown code", s.UseInvite(ctx, ID("no-invite"), ID("err-invitee"), t0), store.ErrNotFound},
		{"UseInvite for a registered user", s.UseInvite(ctx, ID("invite"), owner, t0), store.ErrExists},
		{"UseInvite, left unused by the refusal", s.UseInvite(ctx, ID("invite"), ID("err-invitee"), t0), nil},
		{"UseInvite, used", s.UseInvite(ctx, ID("invite"), ID("err-invitee-2"), t0), store.ErrNotFound},
		{"CreateInvite, expiring", s.CreateInvite(ctx, ID("old-invite"), t0.Add(time.Minute), t0), nil},
		{"UseInvite, expired", s.UseInvite(ctx, ID("old-invite"), ID("err-invitee-3"), t0.Add(time.Hour)), store.ErrNotFound},
		{"CheckFingerprint, first", second(s.CheckFingerprint(ctx, ID("fp"))), nil},
		{"CheckFingerprint, another", second(s.CheckFingerprint(ctx, ID("fp-2"))), nil},
		{"Stats", second(s.Stats(ctx, t0)), nil},
		{"AdminList of an unknown table", second(s.AdminList(ctx, store.AdminQuery{Table: "nope", Limit: 1})), store.ErrBadQuery},
		{"DeleteUser of an unknown user", s.DeleteUser(ctx, stranger), store.ErrNotFound},
		{"Ping", s.Ping(ctx), nil},
		{"Prune", s.Prune(ctx, t0.Add(48*time.Hour)), nil},
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
	if stale == nil || stale.Current != 1 {
		t.Errorf("StaleError = %+v, want Current 1", stale)
	}
	// Nothing refused above changed what the owner and the other user hold.
	for user, k := range map[string]string{owner: key, other: otherKey} {
		if b, err := s.GetBackup(ctx, user, k, 0); err != nil || b.Version != 1 {
			t.Errorf("after the refusals: %+v %v", b, err)
		}
	}
}

// second is the error of a call that returns a value and an error.
func second[T any](_ T, err error) error { return err }

// inClosedSet reports whether err is nil or one the callers understand.
func inClosedSet(err error) bool {
	var le *store.LimitError
	var se *store.StaleError
	if err == nil || errors.As(err, &le) || errors.As(err, &se) {
		return true
	}
	for _, e := range []error{store.ErrNotFound, store.ErrExists, store.ErrQuota,
		store.ErrReplay, store.ErrUnavailable, store.ErrNoSpace, store.ErrBadQuery, store.ErrAccount} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
