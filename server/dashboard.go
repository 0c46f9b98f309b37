package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/ganigeorgiev/fexpr"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/search"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/usage"
)

// The dashboard reads collections through PocketBase's records API
// (/api/collections/{name}/records). What it shows of users and backups, and
// the stats collection, is answered here from the store:
//
//   - stats (both backends): the usage figures, computed from the store
//     (cached at most usage.DefaultTTL), read-only;
//   - backups (both backends) and users on PostgreSQL: rows read from the
//     store's database at each request, metadata only (the store selects no
//     data column), read-only except deleting. On PostgreSQL PocketBase's own
//     tables for them stay empty; nothing is copied or cached, so every
//     instance sharing the database shows the same rows;
//   - deleting a user or a backup (both backends) goes through the store,
//     which removes every backup, version and event concerned in one
//     transaction;
//   - on SQLite, PocketBase lists users itself (an id and a date each).
//
// Only superusers get past: for anyone else the request goes on to
// PocketBase, whose nil rules refuse it.

// dashboardPriority runs the interception after PocketBase's auth loader
// (-1020) and its other built-in middlewares.
const dashboardPriority = 100

const recordsPrefix = "/api/collections/"

type dashboard struct {
	st        store.Store
	figures   *usage.Cache
	fromStore bool // users and backups live in the store's database, not PocketBase's
}

func bindDashboard(se *core.ServeEvent, st store.Store, figures *usage.Cache, fromStore bool) {
	d := &dashboard{st: st, figures: figures, fromStore: fromStore}
	se.Router.Bind(&hook.Handler[*core.RequestEvent]{Id: "drDashboard", Priority: dashboardPriority, Func: d.serve})
}

func (d *dashboard) serve(e *core.RequestEvent) error {
	name, id, ok := recordsPath(e.Request.URL.Path)
	if !ok || !e.HasSuperuserAuth() {
		return e.Next()
	}
	collection, err := e.App.FindCachedCollectionByNameOrId(name)
	if err != nil {
		return e.Next()
	}
	switch collection.Name {
	case "stats":
		return d.stats(e, collection, id)
	case "users":
		if e.Request.Method == http.MethodDelete && id != "" {
			return d.deleteUser(e, id)
		}
		if d.fromStore {
			return d.fromDatabase(e, collection, store.AdminUsers, id)
		}
	case "backups":
		// On both backends: PocketBase's own listing would read every blob
		// (it selects whole rows) only to leave the data out.
		if e.Request.Method == http.MethodDelete && id != "" {
			return d.deleteBackup(e, id)
		}
		return d.fromDatabase(e, collection, store.AdminBackups, id)
	}
	return e.Next()
}

// recordsPath splits /api/collections/{name}/records[/{id}].
func recordsPath(path string) (name, id string, ok bool) {
	rest, ok := strings.CutPrefix(path, recordsPrefix)
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[1] != "records" || parts[0] == "" {
		return "", "", false
	}
	if len(parts) == 3 {
		if parts[2] == "" {
			return "", "", false
		}
		id = parts[2]
	}
	return parts[0], id, true
}

func readOnly(e *core.RequestEvent) error {
	return e.BadRequestError("This collection is read-only here: it is served from the backup store.", nil)
}

func (d *dashboard) deleteUser(e *core.RequestEvent, id string) error {
	err := d.st.DeleteUser(e.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return e.NotFoundError("", nil)
	}
	if err != nil {
		return e.InternalServerError("Failed to delete the user.", err)
	}
	return e.NoContent(http.StatusNoContent)
}

// deleteBackup removes one backup with its history and activity, and its
// user once no backup of theirs is left, as DELETE /api/user does.
func (d *dashboard) deleteBackup(e *core.RequestEvent, id string) error {
	ctx := e.Request.Context()
	page, err := d.st.AdminList(ctx, store.AdminQuery{Table: store.AdminBackups, Limit: 1,
		Where: []store.AdminCond{{Field: "id", Op: "=", Value: id}}})
	if err != nil {
		return e.InternalServerError("", err)
	}
	if len(page.Rows) == 0 {
		return e.NotFoundError("", nil)
	}
	err = d.st.DeleteBackup(ctx, page.Rows[0].User, page.Rows[0].Key)
	if errors.Is(err, store.ErrNotFound) {
		return e.NotFoundError("", nil)
	}
	if err != nil {
		return e.InternalServerError("Failed to delete the backup.", err)
	}
	return e.NoContent(http.StatusNoContent)
}

func (d *dashboard) fromDatabase(e *core.RequestEvent, c *core.Collection, table, id string) error {
	if e.Request.Method != http.MethodGet && e.Request.Method != http.MethodHead {
		return readOnly(e)
	}
	if id != "" {
		page, err := d.st.AdminList(e.Request.Context(), store.AdminQuery{Table: table, Limit: 1,
			Where: []store.AdminCond{{Field: "id", Op: "=", Value: id}}})
		if err != nil {
			return e.InternalServerError("", err)
		}
		if len(page.Rows) == 0 {
			return e.NotFoundError("", nil)
		}
		return e.JSON(http.StatusOK, adminItem(c, table, page.Rows[0]))
	}
	lq, err := parseList(e.Request.URL.Query())
	if err != nil {
		return e.BadRequestError(err.Error(), nil)
	}
	q := store.AdminQuery{Table: table, Sort: lq.sort, Desc: lq.desc, Offset: (lq.page - 1) * lq.perPage, Limit: lq.perPage,
		Total: !lq.skipTotal}
	if q.Where, q.Any, err = parseFilter(lq.filter); err != nil {
		return e.BadRequestError(err.Error(), nil)
	}
	page, err := d.st.AdminList(e.Request.Context(), q)
	if errors.Is(err, store.ErrBadQuery) {
		return e.BadRequestError(err.Error(), nil)
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	items := make([]map[string]any, 0, len(page.Rows))
	for _, r := range page.Rows {
		items = append(items, adminItem(c, table, r))
	}
	return e.JSON(http.StatusOK, listResult(lq, page.Total, items))
}

const pbTime = "2006-01-02 15:04:05.000Z"

func adminItem(c *core.Collection, table string, r store.AdminRow) map[string]any {
	item := map[string]any{"collectionId": c.Id, "collectionName": c.Name, "id": r.ID,
		"created": r.Created.UTC().Format(pbTime)}
	if table == store.AdminBackups {
		item["storage_key"], item["user_id"], item["version"], item["size"] = r.Key, r.User, r.Version, r.Size
		item["updated"] = r.Updated.UTC().Format(pbTime)
	}
	return item
}

func (d *dashboard) stats(e *core.RequestEvent, c *core.Collection, id string) error {
	if e.Request.Method != http.MethodGet && e.Request.Method != http.MethodHead {
		return readOnly(e)
	}
	st, err := d.figures.Get(e.Request.Context())
	if err != nil {
		return e.InternalServerError("Failed to read the usage figures.", err)
	}
	var items []map[string]any
	for _, f := range usage.Figures(st) {
		var value any = f.Value
		if f.Withheld {
			value = nil
		}
		items = append(items, map[string]any{"collectionId": c.Id, "collectionName": c.Name,
			"id": f.ID, "value": value, "about": f.Describe()})
	}
	if id != "" {
		for _, it := range items {
			if it["id"] == id {
				return e.JSON(http.StatusOK, it)
			}
		}
		return e.NotFoundError("", nil)
	}
	lq, err := parseList(e.Request.URL.Query())
	if err != nil {
		return e.BadRequestError(err.Error(), nil)
	}
	// The figures are few: the list is filtered by id and paged here.
	conds, anyOf, err := parseFilter(lq.filter)
	if err != nil {
		return e.BadRequestError(err.Error(), nil)
	}
	var kept []map[string]any
	for _, it := range items {
		if matches(it["id"].(string), conds, anyOf) {
			kept = append(kept, it)
		}
	}
	total := int64(len(kept))
	from := min(len(kept), (lq.page-1)*lq.perPage)
	return e.JSON(http.StatusOK, listResult(lq, total, kept[from:min(len(kept), from+lq.perPage)]))
}

// matches applies id conditions to a figure's id; conditions on other
// fields match nothing.
func matches(id string, conds []store.AdminCond, anyOf bool) bool {
	if len(conds) == 0 {
		return true
	}
	for _, c := range conds {
		ok := false
		if c.Field == "id" {
			switch c.Op {
			case "=":
				ok = id == c.Value
			case "!=":
				ok = id != c.Value
			case "~":
				ok = strings.Contains(id, c.Value)
			case "!~":
				ok = !strings.Contains(id, c.Value)
			}
		}
		if ok && anyOf {
			return true
		}
		if !ok && !anyOf {
			return false
		}
	}
	return !anyOf
}

// listQuery is the part of PocketBase's list parameters the dashboard uses.
type listQuery struct {
	page, perPage int
	sort          string
	desc          bool
	filter        string
	skipTotal     bool
}

func parseList(v map[string][]string) (listQuery, error) {
	get := func(k string) string {
		if len(v[k]) > 0 {
			return v[k][0]
		}
		return ""
	}
	q := listQuery{page: 1, perPage: 30, filter: get("filter")}
	if p := get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1_000_000 {
			return q, errors.New("invalid page")
		}
		q.page = n
	}
	if p := get("perPage"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return q, errors.New("invalid perPage")
		}
		q.perPage = min(n, 1000) // PocketBase's own ceiling
	}
	q.skipTotal, _ = strconv.ParseBool(get("skipTotal"))
	sort := strings.TrimSpace(get("sort"))
	if strings.Contains(sort, ",") {
		return q, errors.New("sort by one field only")
	}
	switch {
	case strings.HasPrefix(sort, "-"):
		q.desc, sort = true, sort[1:]
	case strings.HasPrefix(sort, "+"):
		sort = sort[1:]
	}
	if sort == "@rowid" { // the dashboard's default: insertion order
		sort = "created"
	}
	q.sort = sort
	return q, nil
}

// listResult is PocketBase's own result type, so that ?fields= picks from
// the items as it does for PocketBase's lists.
func listResult(q listQuery, total int64, items []map[string]any) *search.Result {
	pages := -1
	if q.skipTotal {
		total = -1
	} else {
		pages = int(math.Ceil(float64(total) / float64(q.perPage)))
	}
	if items == nil {
		items = []map[string]any{}
	}
	return &search.Result{Page: q.page, PerPage: q.perPage, TotalItems: int(total), TotalPages: pages, Items: items}
}

// parseFilter reads a PocketBase filter made of comparisons joined all by
// && or all by || (nested groups of one kind included), which covers the
// dashboard's search box and filters by id. Anything else is refused.
func parseFilter(filter string) ([]store.AdminCond, bool, error) {
	if strings.TrimSpace(filter) == "" {
		return nil, false, nil
	}
	groups, err := fexpr.Parse(filter)
	if err != nil {
		return nil, false, errors.New("invalid filter")
	}
	var conds []store.AdminCond
	var join fexpr.JoinOp
	var walk func([]fexpr.ExprGroup) error
	walk = func(gs []fexpr.ExprGroup) error {
		for i, g := range gs {
			if i > 0 || len(conds) > 0 {
				if join != "" && g.Join != join {
					return errors.New("this filter mixes && and ||, which is not supported here")
				}
				join = g.Join
			}
			switch item := g.Item.(type) {
			case []fexpr.ExprGroup:
				if err := walk(item); err != nil {
					return err
				}
			case fexpr.Expr:
				c, err := condition(item)
				if err != nil {
					return err
				}
				conds = append(conds, c)
			default:
				return errors.New("invalid filter")
			}
		}
		return nil
	}
	if err := walk(groups); err != nil {
		return nil, false, err
	}
	return conds, join == fexpr.JoinOr, nil
}

func condition(x fexpr.Expr) (store.AdminCond, error) {
	if x.Left.Type != fexpr.TokenIdentifier || (x.Right.Type != fexpr.TokenText && x.Right.Type != fexpr.TokenNumber) {
		return store.AdminCond{}, errors.New("a filter here compares a field with a value")
	}
	// The "any of" operators mean the same on single-valued fields.
	op := strings.TrimPrefix(string(x.Op), "?")
	return store.AdminCond{Field: x.Left.Literal, Op: op, Value: x.Right.Literal}, nil
}
