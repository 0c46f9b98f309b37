package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// Stats implements store.Store. Every figure is one aggregate over a table,
// read fresh; callers cache (see package usage).
func (s *Store) Stats(ctx context.Context, now time.Time) (store.Stats, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var st store.Stats
	// backups.size is the newest version's; backup_versions holds every
	// version, the newest included, its sizes in a covering index.
	err := s.read.NewQuery(`SELECT (SELECT COUNT(*) FROM users),
		(SELECT COUNT(*) FROM backups), (SELECT COUNT(*) FROM backup_versions),
		(SELECT COALESCE(SUM(size), 0) FROM backups), (SELECT COALESCE(SUM(size), 0) FROM backup_versions),
		(SELECT COALESCE(MAX(size), 0) FROM backups), (SELECT COUNT(DISTINCT user_id) FROM backups),
		(SELECT COUNT(*) FROM accounts)`).
		WithContext(ctx).Row(&st.Users, &st.Backups, &st.Versions, &st.NewestBytes, &st.StoredBytes,
		&st.LargestBackup, &st.UsersWithBackups, &st.Accounts)
	if err != nil {
		return st, s.fail(err)
	}
	st.HistoryBytes = st.StoredBytes - st.NewestBytes

	minute := now.Unix() / 60
	err = s.read.NewQuery(`SELECT
		(SELECT COUNT(DISTINCT user_id) FROM activity WHERE minute >= {:d1} AND kind IN ('saved', 'restored')),
		(SELECT COUNT(DISTINCT user_id) FROM activity WHERE minute >= {:d7} AND kind IN ('saved', 'restored')),
		(SELECT COUNT(DISTINCT user_id) FROM activity WHERE minute >= {:d30} AND kind IN ('saved', 'restored'))`).
		Bind(dbx.Params{"d1": minute - 24*60, "d7": minute - 7*24*60, "d30": minute - 30*24*60}).
		WithContext(ctx).Row(&st.Active1d, &st.Active7d, &st.Active30d)
	if err != nil {
		return st, s.fail(err)
	}

	rows, err := s.read.NewQuery(`SELECT name, count FROM usage_daily WHERE day = {:day}`).
		Bind(dbx.Params{"day": unixDay(now)}).WithContext(ctx).Rows()
	if err != nil {
		return st, s.fail(err)
	}
	defer rows.Close()
	st.Today = map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return st, s.fail(err)
		}
		st.Today[name] = n
	}
	return st, s.fail(rows.Err())
}

func unixDay(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// AddUsage implements store.Store.
func (s *Store) AddUsage(ctx context.Context, day time.Time, counts map[string]int64) error {
	if len(counts) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *dbx.Tx) error {
		add := tx.NewQuery(`INSERT INTO usage_daily (day, name, count) VALUES ({:day}, {:name}, {:n})
			ON CONFLICT (day, name) DO UPDATE SET count = usage_daily.count + excluded.count`).Prepare()
		defer add.Close()
		for name, n := range counts {
			if _, err := add.Bind(dbx.Params{"day": unixDay(day), "name": name, "n": n}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteUser implements store.Store.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		// Locks the user row as saves do, so that a save in flight either
		// lands before and is deleted, or finds the user gone.
		var found string
		if err := tx.NewQuery(s.q.lockUser).Bind(dbx.Params{"user": user}).Row(&found); err != nil {
			return err // no rows: unknown user
		}
		for _, stmt := range []string{
			`DELETE FROM sessions WHERE user_id = {:user}`,
			`DELETE FROM accounts WHERE user_id = {:user}`,
			`DELETE FROM backup_versions WHERE backup_id IN (SELECT id FROM backups WHERE user_id = {:user})`,
			`DELETE FROM activity WHERE user_id = {:user}`,
			`DELETE FROM backups WHERE user_id = {:user}`,
			`DELETE FROM users WHERE id = {:user}`,
		} {
			if _, err := tx.NewQuery(stmt).Bind(dbx.Params{"user": user}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// adminField is how a dashboard field maps to a column.
type adminField struct {
	column string
	kind   byte // 't' text, 'n' number, 'd' time
}

func (s *Store) adminFields(table string) (map[string]adminField, string, bool) {
	switch table {
	case store.AdminUsers:
		return map[string]adminField{
			"id": {"id", 't'}, "created": {s.d.Created, 'd'},
		}, fmt.Sprintf(`SELECT id, '', '', 0, 0, %[1]s, %[1]s FROM users`, s.d.Created), true
	case store.AdminBackups:
		// Metadata columns only: a listing never reads a blob out.
		return map[string]adminField{
				"id": {"id", 't'}, "storage_key": {"storage_key", 't'}, "user_id": {"user_id", 't'},
				"version": {"version", 'n'}, "size": {"size", 'n'},
				"created": {s.d.Created, 'd'}, "updated": {s.d.Updated, 'd'},
			}, fmt.Sprintf(`SELECT id, user_id, storage_key, version, size, %s, %s FROM backups`,
				s.d.Created, s.d.Updated), true
	}
	return nil, "", false
}

// AdminList implements store.Store.
func (s *Store) AdminList(ctx context.Context, q store.AdminQuery) (store.AdminPage, error) {
	page := store.AdminPage{Total: -1}
	fields, selectSQL, ok := s.adminFields(q.Table)
	if !ok || q.Limit <= 0 || q.Offset < 0 {
		return page, store.ErrBadQuery
	}
	where, params, err := s.adminWhere(fields, q)
	if err != nil {
		return page, err
	}
	sortField := cmpOr(q.Sort, "created")
	sortCol, ok := fields[sortField]
	if !ok {
		return page, fmt.Errorf("%w: cannot sort by %q", store.ErrBadQuery, sortField)
	}
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if q.Total {
		table := strings.TrimPrefix(selectSQL[strings.LastIndex(selectSQL, " FROM "):], " FROM ")
		err := s.read.NewQuery(`SELECT COUNT(*) FROM ` + table + where).Bind(params).WithContext(ctx).Row(&page.Total)
		if err != nil {
			return page, s.fail(err)
		}
	}
	params["limit"], params["offset"] = q.Limit, q.Offset
	rows, err := s.read.NewQuery(selectSQL + where + ` ORDER BY ` + sortCol.column + dir + `, ` + fields["id"].column + dir +
		` LIMIT {:limit} OFFSET {:offset}`).Bind(params).WithContext(ctx).Rows()
	if err != nil {
		return page, s.fail(err)
	}
	defer rows.Close()
	page.Rows = []store.AdminRow{}
	for rows.Next() {
		var r store.AdminRow
		var created, updated timeValue
		if err := rows.Scan(&r.ID, &r.User, &r.Key, &r.Version, &r.Size, &created, &updated); err != nil {
			return page, s.fail(err)
		}
		r.Created, r.Updated = created.t, updated.t
		page.Rows = append(page.Rows, r)
	}
	return page, s.fail(rows.Err())
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (s *Store) adminWhere(fields map[string]adminField, q store.AdminQuery) (string, dbx.Params, error) {
	params := dbx.Params{}
	if len(q.Where) == 0 {
		return "", params, nil
	}
	parts := make([]string, 0, len(q.Where))
	for i, c := range q.Where {
		f, ok := fields[c.Field]
		if !ok {
			return "", nil, fmt.Errorf("%w: unknown field %q", store.ErrBadQuery, c.Field)
		}
		name := "c" + strconv.Itoa(i)
		ph := "{:" + name + "}"
		switch c.Op {
		case "~", "!~":
			params[name] = "%" + likeEscaper.Replace(c.Value) + "%"
			not := ""
			if c.Op == "!~" {
				not = "NOT "
			}
			parts = append(parts, "CAST("+f.column+" AS TEXT) "+not+"LIKE "+ph+` ESCAPE '\'`)
			continue
		case "=", "!=", "<", "<=", ">", ">=":
		default:
			return "", nil, fmt.Errorf("%w: unknown operator %q", store.ErrBadQuery, c.Op)
		}
		op := c.Op
		if op == "!=" {
			op = "<>"
		}
		switch f.kind {
		case 't':
			if op != "=" && op != "<>" {
				return "", nil, fmt.Errorf("%w: %s %s", store.ErrBadQuery, c.Field, c.Op)
			}
			params[name] = c.Value
		case 'n':
			n, err := strconv.ParseInt(c.Value, 10, 64)
			if err != nil {
				return "", nil, fmt.Errorf("%w: %s needs a number", store.ErrBadQuery, c.Field)
			}
			params[name] = n
		case 'd':
			var t timeValue
			if err := t.parse(c.Value); err != nil {
				return "", nil, fmt.Errorf("%w: %s needs a date", store.ErrBadQuery, c.Field)
			}
			params[name] = s.d.TimeArg(t.t)
		}
		parts = append(parts, f.column+" "+op+" "+ph)
	}
	join := " AND "
	if q.Any {
		join = " OR "
	}
	return " WHERE (" + strings.Join(parts, join) + ")", params, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// timeValue scans a created or updated column of either backend: PostgreSQL
// hands over a time.Time, SQLite PocketBase's text form.
type timeValue struct{ t time.Time }

func (v *timeValue) Scan(src any) error {
	switch x := src.(type) {
	case time.Time:
		v.t = x.UTC()
		return nil
	case string:
		return v.parse(x)
	case []byte:
		return v.parse(string(x))
	}
	return fmt.Errorf("sqlstore: cannot scan %T as a time", src)
}

func (v *timeValue) parse(s string) error {
	t, err := time.Parse(pbTimeLayout, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	v.t = t.UTC()
	return err
}
