package pgtest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestProxy(t *testing.T) {
	p, proxied := NewProxy(t, DSN(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(proxied)
	if err != nil {
		t.Fatal(err)
	}
	if got := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))); got != p.Addr() {
		t.Fatalf("proxied DSN points at %s, the proxy listens on %s", got, p.Addr())
	}
	query := func(conn *pgx.Conn) error {
		var one int
		return conn.QueryRow(ctx, `SELECT 1`).Scan(&one)
	}

	conn, err := pgx.Connect(ctx, proxied)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := query(conn); err != nil {
		t.Fatal(err)
	}

	p.Down()
	if err := query(conn); err == nil {
		t.Fatal("a connection made before Down still answers")
	}
	if c, err := pgx.Connect(ctx, proxied); err == nil {
		c.Close(ctx)
		t.Fatal("connected while the proxy is down")
	}
	p.Down() // twice is harmless

	p.Up()
	again, err := pgx.Connect(ctx, proxied)
	if err != nil {
		t.Fatalf("connect after Up: %v", err)
	}
	defer again.Close(ctx)
	if err := query(again); err != nil {
		t.Fatalf("query after Up: %v", err)
	}
}
