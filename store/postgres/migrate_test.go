package postgres

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	ms, err := loadMigrations(fstest.MapFS{
		"0010_c.sql": file("c"),
		"0002_b.sql": file("b"),
		"0001_a.sql": file("a"),
		"README.md":  file("not a migration"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.name+"="+m.sql)
	}
	if want := "0001_a.sql=a 0002_b.sql=b 0010_c.sql=c"; strings.Join(got, " ") != want {
		t.Fatalf("loaded %v, want %s", got, want)
	}

	for _, bad := range []fstest.MapFS{
		{"init.sql": file("")},
		{"x_init.sql": file("")},
		{"0001.sql": file("")},
		{"0000_zero.sql": file("")},
		{"-001_negative.sql": file("")},
		{"0001_a.sql": file(""), "1_b.sql": file("")},
	} {
		if _, err := loadMigrations(bad); err == nil {
			t.Errorf("loaded %v without complaint", bad)
		}
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms := embeddedMigrations(t)
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("embedded migrations start at %+v, want version 1", ms)
	}
	for i, m := range ms {
		if m.version != int64(i+1) {
			t.Fatalf("%s: versions must run 1, 2, 3... without gaps", m.name)
		}
	}
}
