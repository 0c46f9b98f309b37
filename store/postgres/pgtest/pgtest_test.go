package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithParams(t *testing.T) {
	params := map[string]string{"search_path": "s", "application_name": "a", "port": "6543",
		"options": `-c statement_timeout=1000 -c x=a+b\'`}
	for _, dsn := range []string{
		"postgres://u:p%40ss@h:5432/db?sslmode=disable&application_name=old",
		"postgresql://u@h/db",
		"host=h user=u dbname=db sslmode=disable application_name=old",
	} {
		got, err := WithParams(dsn, params)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if cfg.RuntimeParams["search_path"] != "s" || cfg.RuntimeParams["application_name"] != "a" ||
			cfg.RuntimeParams["options"] != params["options"] ||
			cfg.Host != "h" || cfg.Port != 6543 || cfg.User != "u" || cfg.Database != "db" {
			t.Errorf("%s became %s", dsn, got)
		}
	}
	// libpq reads '+' in a URI as itself, and so must a rewrite.
	kept, err := WithParams("postgres://u@h/db?application_name=a+b", map[string]string{"port": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := pgx.ParseConfig(kept); err != nil || cfg.RuntimeParams["application_name"] != "a+b" {
		t.Errorf("a '+' in the DSN did not survive: %s", kept)
	}
	if _, err := WithParams("postgres://u@h:port/db", params); err == nil {
		t.Error("an invalid URL was accepted")
	}
}

func TestDSN(t *testing.T) {
	dsn := DSN(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schema, app string
	if err := conn.QueryRow(context.Background(), `SELECT current_schema(), current_setting('application_name')`).Scan(&schema, &app); err != nil {
		t.Fatal(err)
	}
	if schema != app || len(schema) != len("dr_test_")+16 {
		t.Fatalf("schema %q, application_name %q", schema, app)
	}
}
