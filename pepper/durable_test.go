package pepper

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/dailyreps/backup/servertest/lazyfs"
)

// A pepper file Load reported created survives a power cut: losing it
// makes every backup unreadable.
func TestCreatedPepperSurvivesPowerCut(t *testing.T) {
	f := lazyfs.MountForTest(t)
	path := filepath.Join(f.Dir(), FileName)
	p, created, err := Load(nil, path)
	if err != nil || !created {
		t.Fatalf("Load: created %v, %v", created, err)
	}
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the pepper file reported created is gone after a power cut: %v", err)
	}
	if string(b) != p.Format() {
		t.Fatal("the pepper file changed across a power cut")
	}
}

// A pepper WriteFile returned from (the pending file of a rotation) and a
// file ReplaceFile moved survive a power cut.
func TestWriteAndReplaceSurvivePowerCut(t *testing.T) {
	f := lazyfs.MountForTest(t)
	path := filepath.Join(f.Dir(), FileName)
	pending := path + PendingSuffix
	old, next := mustNew(t, key(1)), mustNew(t, key(1), key(2))
	if err := WriteFile(path, old); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(pending, next); err != nil {
		t.Fatal(err)
	}
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]*Pepper{path: old, pending: next} {
		if b, err := os.ReadFile(file); err != nil || string(b) != want.Format() {
			t.Fatalf("%s after a power cut: %v", filepath.Base(file), err)
		}
	}
	if err := ReplaceFile(pending, path); err != nil {
		t.Fatal(err)
	}
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, []byte(next.Format())) {
		t.Fatalf("the replaced pepper file after a power cut: %v", err)
	}
	if _, err := os.Stat(pending); !os.IsNotExist(err) {
		t.Fatalf("the pending file after a power cut: %v, want it gone", err)
	}
}
