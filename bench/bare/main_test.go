package main

import "testing"

// The reference server refuses what the real server refuses, so that it
// does the same work: these are the checks it must not skip.
func TestEnvelope(t *testing.T) {
	for data, want := range map[string]bool{
		`{"encrypted":"AAAA","nonce":"AAECAwQFBgcICQoL"}`:       true,
		`{"nonce":"AAECAwQFBgcICQoL","encrypted":"AAAA"}`:       true,
		`{"encrypted":"AAAA","nonce":"AAECAwQFBgcICQ=="}`:       false, // 11 bytes
		`{"encrypted":"AA*A","nonce":"AAECAwQFBgcICQoL"}`:       false,
		`{"encrypted":"","nonce":"AAECAwQFBgcICQoL"}`:           false,
		`{"encrypted":"AAAA"}`:                                  false,
		`{"encrypted":"AAAA","nonce":"AAECAwQFBgcICQoL","x":1}`: false,
		`{"encrypted":"AAAA","nonce":"AAECAwQFBgcICQoL"} {}`:    false,
		`{"encrypted":1,"nonce":"AAECAwQFBgcICQoL"}`:            false,
		`not json`: false,
		`{"encrypted":"AAAA","nonce":"AAECAwQFBgcICQoL","nonce":"AA"}`: false,
	} {
		if got := isEnvelope(data); got != want {
			t.Errorf("isEnvelope(%s) = %v, want %v", data, got, want)
		}
	}
}

func TestIDsAndPlaceholders(t *testing.T) {
	ok := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for id, want := range map[string]bool{ok: true, ok[:63]: false, ok[:63] + "A": false, ok[:63] + "g": false, ok + "0": false} {
		if isID(id) != want {
			t.Errorf("isID(%q) = %v", id, !want)
		}
	}
	if got := dollars(`SELECT ? WHERE a = ? AND b = ?`); got != `SELECT $1 WHERE a = $2 AND b = $3` {
		t.Errorf("dollars: %s", got)
	}
}
