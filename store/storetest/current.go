package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// The layout before accounts (schema 3: metadata rows in backups, every
// version in backup_versions, the creating address's tag), written row by
// row as that release's store wrote it, so that each backend's accounts
// migration is tested on a database that release left.

// CurrentUser and CurrentKey name the backup WriteCurrent adds.
var CurrentUser, CurrentKey = ID("current-user"), ID("current-key")

// WriteCurrent adds to f a user with a backup of three versions, written in
// the layout before accounts. id is the backups row's id to use.
func WriteCurrent(t *testing.T, db dbx.Builder, c V1Columns, id string, f *V1Fixture) {
	t.Helper()
	exec := func(q string, p dbx.Params) {
		t.Helper()
		if _, err := db.NewQuery(q).Bind(p).Execute(); err != nil {
			t.Fatalf("write current: %v\n%s", err, q)
		}
	}
	t1 := time.Date(2026, 11, 2, 9, 30, 0, 456e6, time.UTC)
	exec(fmt.Sprintf(`INSERT INTO users (id, %s) VALUES ({:user}, {:now})`, c.Created),
		dbx.Params{"user": CurrentUser, "now": c.TimeArg(t1)})
	var vs []store.Backup
	for v := 1; v <= 3; v++ {
		vs = append(vs, store.Backup{Data: v1Blob(3000+v, fmt.Sprint("current-", v)), Version: int64(v),
			UpdatedAt: t1.Add(time.Duration(v) * time.Hour)})
	}
	newest := vs[len(vs)-1]
	exec(fmt.Sprintf(`INSERT INTO backups (id, storage_key, user_id, version, size, creator, %s, %s)
		VALUES ({:id}, {:key}, {:user}, {:version}, {:size}, 'a1b2c3d4', {:created}, {:updated})`, c.Created, c.Updated),
		dbx.Params{"id": id, "key": CurrentKey, "user": CurrentUser, "version": newest.Version, "size": len(newest.Data),
			"created": c.TimeArg(vs[0].UpdatedAt), "updated": c.TimeArg(newest.UpdatedAt)})
	for _, v := range vs {
		exec(`INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
			VALUES ({:id}, {:version}, {:size}, {:updated}, {:data})`,
			dbx.Params{"id": id, "version": v.Version, "size": len(v.Data), "updated": v.UpdatedAt.UnixMilli(), "data": v.Data})
	}
	f.Users = append(f.Users, CurrentUser)
	f.Backups[[2]string{CurrentUser, CurrentKey}] = vs
	f.Events[[2]string{CurrentUser, CurrentKey}] = nil
}

// CheckUpgrade, run after CheckV1, upgrades through the store each backup
// of the fixture named in moves ((user, key) pairs) into a new account of
// its user, and verifies that every version is served byte for byte under
// its v2 key and none under its v1 key, that each saves on as v2, and that
// the other v1 backups are untouched.
func CheckUpgrade(t *testing.T, s store.Store, f V1Fixture, moves ...[2]string) {
	t.Helper()
	for _, m := range moves {
		user, key := m[0], m[1]
		versions := f.Backups[m]
		if len(versions) == 0 {
			t.Fatalf("no backup %.8s of %.8s in the fixture", key, user)
		}
		up := upgrade("migrated", user, key, ID("name:" + user)[:32])
		if err := s.UpgradeV1(ctx, up); err != nil {
			t.Fatalf("upgrade after the migration: %v", err)
		}
		expectMoved(t, s, up, versions)
		newest := versions[len(versions)-1]
		list, err := s.ListBackups(ctx, user)
		if err != nil || !slices.Equal(list, []store.BackupInfo{{Name: up.Name, Version: newest.Version,
			Size: int64(len(newest.Data)), UpdatedAt: newest.UpdatedAt}}) {
			t.Fatalf("list after the upgrade: %+v, %v", list, err)
		}
		expectSession(t, s, up.Session.Token, t0, user)
		next := newest.Version + 1
		r, err := s.SaveBackup(ctx, store.SaveRequest{User: user, Key: up.Key, Name: up.Name, Data: "v2 data",
			Version: next, Now: t0, Limits: noLimits})
		if err != nil || r.Version != next {
			t.Fatalf("v2 save after the upgrade: %+v, %v", r, err)
		}
	}
	// CheckV1 saved over the first backup of v1-user-a, dropping its
	// oldest version; the others are as written.
	for id, vs := range f.Backups {
		if !slices.Contains(moves, id) && id != [2]string{ID("v1-user-a"), ID("v1-key-a")} {
			expectV1(t, s, id[0], id[1], vs)
		}
	}
}
