package sqlstore

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"sync"

	"github.com/pocketbase/dbx"
)

// Prepared statements for the request paths (save, restore, limits, nonces).
//
// dbx rewrites the {:name} placeholders of every query it builds with regular
// expressions, and SQLite compiles every statement it is handed: in profiles
// of small saves and restores the two took about a quarter of the server's
// CPU. The statements run through txRow, txExec and readRow are therefore
// rewritten once and kept prepared: database/sql holds one compiled copy per
// connection and recompiles it on a new one by itself.
//
// A statement is prepared in the background the first time it is seen and
// runs through dbx until then: preparing on the pool needs a free connection,
// and SQLite's write pool has a single one, held by the transaction asking.

// maxPrepared bounds the cache; only fixed statement texts are meant for it.
const maxPrepared = 64

var namedParam = regexp.MustCompile(`\{:(\w+)\}`)

type prepared struct {
	stmt  *sql.Stmt
	names []string // the parameters, in placeholder order
}

// stmtCache is the prepared statements of one pool, by their dbx text.
type stmtCache struct {
	db   *dbx.DB
	mu   sync.Mutex
	byQ  map[string]*prepared // nil value: being prepared, or not preparable
	done bool                 // closed
}

func newStmtCache(b dbx.Builder) *stmtCache {
	db, _ := b.(*dbx.DB) // anything else (a transaction) gets no cache
	return &stmtCache{db: db, byQ: map[string]*prepared{}}
}

// get returns query's prepared statement, or nil after starting to prepare
// it.
func (c *stmtCache) get(query string) *prepared {
	if c == nil || c.db == nil {
		return nil
	}
	c.mu.Lock()
	p, seen := c.byQ[query]
	if !seen && !c.done && len(c.byQ) < maxPrepared {
		c.byQ[query] = nil
		go c.prepare(query)
	}
	c.mu.Unlock()
	return p
}

func (c *stmtCache) prepare(query string) {
	// dbx's own {{table}} and [[column]] quoting is not reproduced here.
	if strings.Contains(query, "{{") || strings.Contains(query, "[[") {
		return
	}
	var names []string
	raw := namedParam.ReplaceAllStringFunc(query, func(m string) string {
		names = append(names, m[2:len(m)-1])
		return c.db.GeneratePlaceholder(len(names))
	})
	stmt, err := c.db.DB().Prepare(raw)
	if err != nil {
		return // stays on dbx's path, which reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		_ = stmt.Close()
		return
	}
	c.byQ[query] = &prepared{stmt: stmt, names: names}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	for _, p := range c.byQ {
		if p != nil {
			_ = p.stmt.Close()
		}
	}
}

func (p *prepared) args(params dbx.Params) ([]any, bool) {
	args := make([]any, len(p.names))
	for i, n := range p.names {
		v, ok := params[n]
		if !ok {
			return nil, false // dbx's path reports the missing parameter
		}
		args[i] = v
	}
	return args, true
}

// inTx returns query's prepared statement bound to tx, and the context the
// transaction's statements run under.
func (s *Store) inTx(tx *dbx.Tx, query string, params dbx.Params) (*sql.Stmt, context.Context, []any) {
	p := s.writeStmts.get(query)
	if p == nil {
		return nil, nil, nil
	}
	args, ok := p.args(params)
	if !ok {
		return nil, nil, nil
	}
	b, ok := tx.Builder.(interface {
		Executor() dbx.Executor
		DB() *dbx.DB
	})
	if !ok {
		return nil, nil, nil
	}
	sqlTx, ok := b.Executor().(*sql.Tx)
	if !ok {
		return nil, nil, nil
	}
	// dbx runs a transaction's statements under its DB's context.
	ctx := b.DB().Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return sqlTx.StmtContext(ctx, p.stmt), ctx, args
}

// txRow is tx.NewQuery(query).Bind(params).Row(dest...).
func (s *Store) txRow(tx *dbx.Tx, query string, params dbx.Params, dest ...any) error {
	stmt, ctx, args := s.inTx(tx, query, params)
	if stmt == nil {
		return tx.NewQuery(query).Bind(params).Row(dest...)
	}
	defer stmt.Close()
	return stmt.QueryRowContext(ctx, args...).Scan(dest...)
}

// txRows is tx.NewQuery(query).Bind(params).Rows(), as database/sql rows;
// closeStmt, called after the rows are closed, releases the statement.
func (s *Store) txRows(tx *dbx.Tx, query string, params dbx.Params) (rows *sql.Rows, closeStmt func(), err error) {
	stmt, ctx, args := s.inTx(tx, query, params)
	if stmt == nil {
		r, err := tx.NewQuery(query).Bind(params).Rows()
		if err != nil {
			return nil, nil, err
		}
		return r.Rows, func() {}, nil
	}
	rows, err = stmt.QueryContext(ctx, args...)
	if err != nil {
		_ = stmt.Close()
		return nil, nil, err
	}
	return rows, func() { _ = stmt.Close() }, nil
}

// txExec is tx.NewQuery(query).Bind(params).Execute().
func (s *Store) txExec(tx *dbx.Tx, query string, params dbx.Params) (sql.Result, error) {
	stmt, ctx, args := s.inTx(tx, query, params)
	if stmt == nil {
		return tx.NewQuery(query).Bind(params).Execute()
	}
	defer stmt.Close()
	return stmt.ExecContext(ctx, args...)
}

// readRow is s.read.NewQuery(query).Bind(params).WithContext(ctx).Row(dest...).
func (s *Store) readRow(ctx context.Context, query string, params dbx.Params, dest ...any) error {
	if p := s.readStmts.get(query); p != nil {
		if args, ok := p.args(params); ok {
			return p.stmt.QueryRowContext(ctx, args...).Scan(dest...)
		}
	}
	return s.read.NewQuery(query).Bind(params).WithContext(ctx).Row(dest...)
}

// writeRow is readRow on the write pool, for a statement that is its own
// transaction.
func (s *Store) writeRow(ctx context.Context, query string, params dbx.Params, dest ...any) error {
	if p := s.writeStmts.get(query); p != nil {
		if args, ok := p.args(params); ok {
			return p.stmt.QueryRowContext(ctx, args...).Scan(dest...)
		}
	}
	return s.write.NewQuery(query).Bind(params).WithContext(ctx).Row(dest...)
}
