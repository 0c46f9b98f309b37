// Package v2fake is an in-memory server of protocol v2's wire format
// (docs/protocol-v2.md), strict about what clients send, for the tests of
// package client and of the commands: every refusal a test needs can be
// produced on demand, and stored data can be tampered with the way a
// hostile server would.
package v2fake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// KDF is the slow step's parameters on the wire.
type KDF struct {
	Name       string `json:"name"`
	Iterations int    `json:"iterations"`
	Salt       string `json:"salt"`
}

// Version is one stored version of a backup.
type Version struct {
	Data      string
	Version   int64
	UpdatedAt time.Time
}

// Backup is one backup of an account, oldest version first.
type Backup struct {
	Versions  []Version
	LegacyKey string // wrappedLegacyKey, for a backup moved from v1
}

// Account is what the fake keeps per account, in the clear.
type Account struct {
	KDF                KDF
	Auth               string
	WrappedKey         string
	RecoveryAuth       string
	RecoveryWrappedKey string
	Backups            map[string]*Backup
}

// V1User is a v1 backup the upgrade can take.
type V1User struct {
	StorageKey string
	Versions   []Version
}

// Fault is what the fake does to a request instead of answering it.
type Fault int

const (
	// Serve answers normally.
	Serve Fault = iota
	// DropBefore closes the connection without doing anything.
	DropBefore
	// DropAfter does the work, then closes the connection unanswered.
	DropAfter
)

// Server is the fake. Set its fields before the first request; inspect its
// state under Lock.
type Server struct {
	URL        string
	Protocols  []string // listed in /api/info; v1 and v2 by default
	Iterations int      // the current setting; 600,000 by default

	// Answer, when it returns a non-zero status, replaces the fake's own
	// answer to a request, which then changes nothing.
	Answer func(r *http.Request) (status int, body string, header http.Header)
	// Fault, when set, may drop a request before or after its work.
	Fault func(r *http.Request) Fault

	sync.Mutex
	Accounts map[string]*Account // by accountId
	Sessions map[string]string   // token -> accountId
	V1       map[string]*V1User  // by userId
	Requests []string            // "METHOD path" of every request, in order
	Invites  []string            // X-Invite-Code of each registration
	now      time.Time
}

// New starts a fake server for the length of the test.
func New(t testing.TB) *Server {
	s := &Server{
		Protocols:  []string{"v1", "v2"},
		Iterations: 600_000,
		Accounts:   map[string]*Account{},
		Sessions:   map[string]string{},
		V1:         map[string]*V1User{},
		now:        time.Now().UTC().Truncate(time.Second),
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Count returns how many requests matched "METHOD path" exactly.
func (s *Server) Count(request string) int {
	s.Lock()
	defer s.Unlock()
	n := 0
	for _, r := range s.Requests {
		if r == request {
			n++
		}
	}
	return n
}

type failure struct {
	status int
	msg    string
	header http.Header
}

func fail(status int, msg string) *failure { return &failure{status: status, msg: msg} }

const wrongLogin = "Wrong username or password."

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Lock()
	s.Requests = append(s.Requests, r.Method+" "+r.URL.Path)
	s.Unlock()
	fault := Serve
	if s.Fault != nil {
		fault = s.Fault(r)
	}
	if fault == DropBefore {
		drop(w)
		return
	}
	if s.Answer != nil {
		if status, body, header := s.Answer(r); status != 0 {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
	}
	s.Lock()
	out, header, f := s.route(r)
	s.now = s.now.Add(time.Second)
	s.Unlock()
	if fault == DropAfter {
		drop(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if f != nil {
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.WriteHeader(f.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": f.msg})
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	_ = json.NewEncoder(w).Encode(out)
}

func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
}

// decode reads a JSON body strictly: unknown members are a client bug.
func decode(r *http.Request, out any) *failure {
	if r.Header.Get("Content-Type") != "application/json" {
		return fail(http.StatusUnsupportedMediaType, "Send JSON.")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fail(http.StatusBadRequest, "Malformed body: "+err.Error())
	}
	return nil
}

func isHex64(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

func checkKDF(k *KDF) *failure {
	if k == nil || k.Name != "PBKDF2-SHA256" || k.Iterations < 600_000 {
		return fail(http.StatusBadRequest, "kdf must be PBKDF2-SHA256 with at least 600000 iterations.")
	}
	if salt, err := base64.StdEncoding.DecodeString(k.Salt); err != nil || len(salt) != 16 {
		return fail(http.StatusBadRequest, "kdf.salt must be 16 bytes in standard base64.")
	}
	return nil
}

func checkWrapped(v string) *failure {
	if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) != 60 {
		return fail(http.StatusBadRequest, "A wrapped key is 60 bytes in standard base64.")
	}
	return nil
}

type newKeys struct {
	KDF        *KDF   `json:"kdf"`
	Auth       string `json:"auth"`
	WrappedKey string `json:"wrappedKey"`
}

func (n *newKeys) check() *failure {
	if n == nil {
		return fail(http.StatusBadRequest, "new is missing.")
	}
	if f := checkKDF(n.KDF); f != nil {
		return f
	}
	if !isHex64(n.Auth) {
		return fail(http.StatusBadRequest, "auth must be 64 hex characters.")
	}
	return checkWrapped(n.WrappedKey)
}

type recoveryKeys struct {
	RecoveryAuth       string `json:"recoveryAuth"`
	RecoveryWrappedKey string `json:"recoveryWrappedKey"`
}

func (k recoveryKeys) check() *failure {
	if !isHex64(k.RecoveryAuth) {
		return fail(http.StatusBadRequest, "recoveryAuth must be 64 hex characters.")
	}
	return checkWrapped(k.RecoveryWrappedKey)
}

func (s *Server) grant(accountID string) map[string]any {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	s.Sessions[token] = accountID
	return map[string]any{"token": token, "expiresAt": s.now.Add(time.Hour)}
}

func (s *Server) endSessions(accountID string) {
	for t, a := range s.Sessions {
		if a == accountID {
			delete(s.Sessions, t)
		}
	}
}

// session returns the account of the request's bearer token.
func (s *Server) session(r *http.Request) (string, *Account, *failure) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	id, known := s.Sessions[token]
	if !ok || !known {
		return "", nil, fail(http.StatusUnauthorized, "Sign in again.")
	}
	return id, s.Accounts[id], nil
}

func (s *Server) fakeKDF(accountID string) KDF {
	sum := sha256.Sum256([]byte("fake-salt" + accountID))
	return KDF{Name: "PBKDF2-SHA256", Iterations: s.Iterations, Salt: base64.StdEncoding.EncodeToString(sum[:16])}
}

func (s *Server) route(r *http.Request) (any, http.Header, *failure) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == "/api/info":
		return map[string]any{"version": "fake", "registration": "open", "protocols": s.Protocols,
			"kdf": map[string]any{"name": "PBKDF2-SHA256", "iterations": s.Iterations, "minIterations": 600_000}}, nil, nil
	case r.Method == http.MethodPost && path == "/api/backup":
		return s.v1Save(r)
	case r.Method == http.MethodPost && path == "/api/register":
		var in struct {
			UserID string `json:"userId"`
		}
		if f := decode(r, &in); f != nil {
			return nil, nil, f
		}
		if s.Accounts[in.UserID] != nil || s.V1[in.UserID] != nil {
			return nil, nil, fail(http.StatusConflict, "This username is taken.")
		}
		s.V1[in.UserID] = &V1User{}
		return map[string]any{"success": true}, nil, nil
	}
	if !contains(s.Protocols, "v2") || !strings.HasPrefix(path, "/api/v2/") {
		return nil, nil, fail(http.StatusNotFound, "Not found.")
	}
	switch op := r.Method + " " + strings.TrimPrefix(path, "/api/v2"); op {
	case "POST /prelogin":
		var in struct {
			AccountID string `json:"accountId"`
		}
		if f := decode(r, &in); f != nil {
			return nil, nil, f
		}
		if !isHex64(in.AccountID) {
			return nil, nil, fail(http.StatusBadRequest, "accountId must be 64 hex characters.")
		}
		if a := s.Accounts[in.AccountID]; a != nil {
			return map[string]any{"kdf": a.KDF}, nil, nil
		}
		return map[string]any{"kdf": s.fakeKDF(in.AccountID)}, nil, nil
	case "POST /register":
		return s.register(r)
	case "POST /login":
		return s.login(r)
	case "POST /logout":
		_, _, f := s.session(r)
		if f != nil {
			return nil, nil, f
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		delete(s.Sessions, token)
		return map[string]any{"success": true}, nil, nil
	case "POST /password":
		return s.password(r)
	case "POST /recover/key", "POST /recover":
		return s.recover(r, op == "POST /recover")
	case "POST /upgrade":
		return s.upgrade(r)
	case "GET /backups":
		_, a, f := s.session(r)
		if f != nil {
			return nil, nil, f
		}
		list := []map[string]any{}
		for id, b := range a.Backups {
			v := b.Versions[len(b.Versions)-1]
			list = append(list, map[string]any{"id": id, "version": v.Version, "size": len(v.Data), "updatedAt": v.UpdatedAt})
		}
		return map[string]any{"backups": list}, nil, nil
	case "GET /account":
		_, a, f := s.session(r)
		if f != nil {
			return nil, nil, f
		}
		var bytes, versions int
		for _, b := range a.Backups {
			for _, v := range b.Versions {
				bytes += len(v.Data)
				versions++
			}
		}
		return map[string]any{"bytesUsed": bytes, "quotaBytes": 50 << 20, "backups": len(a.Backups), "versions": versions,
			"events": []map[string]any{{"type": "saved", "at": s.now, "count": versions}}}, nil, nil
	case "DELETE /account":
		id, a, f := s.session(r)
		if f != nil {
			return nil, nil, f
		}
		var in struct {
			Auth string `json:"auth"`
		}
		if f := decode(r, &in); f != nil {
			return nil, nil, f
		}
		if in.Auth != a.Auth {
			return nil, nil, fail(http.StatusUnauthorized, wrongLogin)
		}
		delete(s.Accounts, id)
		s.endSessions(id)
		return map[string]any{"success": true}, nil, nil
	}
	return s.backupRoute(r)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) register(r *http.Request) (any, http.Header, *failure) {
	var in struct {
		AccountID string `json:"accountId"`
		newKeys
		recoveryKeys
	}
	if f := decode(r, &in); f != nil {
		return nil, nil, f
	}
	if !isHex64(in.AccountID) {
		return nil, nil, fail(http.StatusBadRequest, "accountId must be 64 hex characters.")
	}
	if f := in.newKeys.check(); f != nil {
		return nil, nil, f
	}
	if f := in.recoveryKeys.check(); f != nil {
		return nil, nil, f
	}
	if s.Accounts[in.AccountID] != nil || s.V1[in.AccountID] != nil {
		return nil, nil, fail(http.StatusConflict, "This username is taken.")
	}
	s.Invites = append(s.Invites, r.Header.Get("X-Invite-Code"))
	s.Accounts[in.AccountID] = &Account{KDF: *in.KDF, Auth: in.Auth, WrappedKey: in.WrappedKey,
		RecoveryAuth: in.RecoveryAuth, RecoveryWrappedKey: in.RecoveryWrappedKey, Backups: map[string]*Backup{}}
	return s.grant(in.AccountID), nil, nil
}

func (s *Server) login(r *http.Request) (any, http.Header, *failure) {
	var in struct {
		AccountID string `json:"accountId"`
		Auth      string `json:"auth"`
	}
	if f := decode(r, &in); f != nil {
		return nil, nil, f
	}
	a := s.Accounts[in.AccountID]
	if a == nil || a.Auth != in.Auth {
		return nil, nil, fail(http.StatusUnauthorized, wrongLogin)
	}
	out := s.grant(in.AccountID)
	out["wrappedKey"] = a.WrappedKey
	if a.KDF.Iterations < s.Iterations {
		out["kdfUpgrade"] = map[string]any{"iterations": s.Iterations}
	}
	return out, nil, nil
}

func (s *Server) password(r *http.Request) (any, http.Header, *failure) {
	id, a, f := s.session(r)
	if f != nil {
		return nil, nil, f
	}
	var in struct {
		Auth string   `json:"auth"`
		New  *newKeys `json:"new"`
	}
	if f := decode(r, &in); f != nil {
		return nil, nil, f
	}
	if f := in.New.check(); f != nil {
		return nil, nil, f
	}
	if in.Auth != a.Auth {
		return nil, nil, fail(http.StatusUnauthorized, wrongLogin)
	}
	a.KDF, a.Auth, a.WrappedKey = *in.New.KDF, in.New.Auth, in.New.WrappedKey
	s.endSessions(id)
	return s.grant(id), nil, nil
}

func (s *Server) recover(r *http.Request, apply bool) (any, http.Header, *failure) {
	var in struct {
		AccountID    string        `json:"accountId"`
		RecoveryAuth string        `json:"recoveryAuth"`
		New          *newKeys      `json:"new"`
		Recovery     *recoveryKeys `json:"recovery"`
	}
	if f := decode(r, &in); f != nil {
		return nil, nil, f
	}
	if apply {
		if f := in.New.check(); f != nil {
			return nil, nil, f
		}
		if in.Recovery == nil {
			return nil, nil, fail(http.StatusBadRequest, "recovery is missing.")
		}
		if f := in.Recovery.check(); f != nil {
			return nil, nil, f
		}
	} else if in.New != nil || in.Recovery != nil {
		return nil, nil, fail(http.StatusBadRequest, "Only accountId and recoveryAuth.")
	}
	a := s.Accounts[in.AccountID]
	if a == nil || a.RecoveryAuth != in.RecoveryAuth {
		return nil, nil, fail(http.StatusUnauthorized, wrongLogin)
	}
	if !apply {
		return map[string]any{"recoveryWrappedKey": a.RecoveryWrappedKey}, nil, nil
	}
	a.KDF, a.Auth, a.WrappedKey = *in.New.KDF, in.New.Auth, in.New.WrappedKey
	a.RecoveryAuth, a.RecoveryWrappedKey = in.Recovery.RecoveryAuth, in.Recovery.RecoveryWrappedKey
	s.endSessions(in.AccountID)
	return s.grant(in.AccountID), nil, nil
}

func (s *Server) upgrade(r *http.Request) (any, http.Header, *failure) {
	var in struct {
		UserID           string `json:"userId"`
		StorageKey       string `json:"storageKey"`
		BackupID         string `json:"backupId"`
		WrappedLegacyKey string `json:"wrappedLegacyKey"`
		newKeys
		recoveryKeys
	}
	if f := decode(r, &in); f != nil {
		return nil, nil, f
	}
	if f := in.newKeys.check(); f != nil {
		return nil, nil, f
	}
	if f := in.recoveryKeys.check(); f != nil {
		return nil, nil, f
	}
	if f := checkWrapped(in.WrappedLegacyKey); f != nil {
		return nil, nil, f
	}
	if !isBackupID(in.BackupID) {
		return nil, nil, fail(http.StatusBadRequest, "backupId must be 32 lowercase hex characters.")
	}
	if a := s.Accounts[in.UserID]; a != nil {
		if a.Auth != in.Auth {
			return nil, nil, fail(http.StatusConflict, "Already upgraded.")
		}
		if _, moved := a.Backups[in.BackupID]; moved {
			return s.grant(in.UserID), nil, nil // a repeat of a committed upgrade
		}
	}
	v1 := s.V1[in.UserID]
	if v1 == nil || v1.StorageKey != in.StorageKey {
		return nil, nil, fail(http.StatusNotFound, "No such backup.")
	}
	a := s.Accounts[in.UserID]
	if a == nil {
		a = &Account{KDF: *in.KDF, Auth: in.Auth, WrappedKey: in.WrappedKey, RecoveryAuth: in.RecoveryAuth,
			RecoveryWrappedKey: in.RecoveryWrappedKey, Backups: map[string]*Backup{}}
		s.Accounts[in.UserID] = a
	}
	a.Backups[in.BackupID] = &Backup{Versions: v1.Versions, LegacyKey: in.WrappedLegacyKey}
	delete(s.V1, in.UserID)
	return s.grant(in.UserID), nil, nil
}

func isBackupID(s string) bool {
	return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == ""
}

func (s *Server) backupRoute(r *http.Request) (any, http.Header, *failure) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v2/backups/")
	if !ok {
		return nil, nil, fail(http.StatusNotFound, "Not found.")
	}
	id, sub, _ := strings.Cut(rest, "/")
	if !isBackupID(id) || (sub != "" && sub != "versions") {
		return nil, nil, fail(http.StatusBadRequest, "The backup id must be 32 lowercase hex characters.")
	}
	_, a, f := s.session(r)
	if f != nil {
		return nil, nil, f
	}
	b := a.Backups[id]
	switch {
	case r.Method == http.MethodPut && sub == "":
		var in struct {
			Version *int64  `json:"version"`
			Data    *string `json:"data"`
		}
		if f := decode(r, &in); f != nil {
			return nil, nil, f
		}
		if in.Version == nil || in.Data == nil {
			return nil, nil, fail(http.StatusBadRequest, "version and data are required.")
		}
		var newest int64
		if b != nil {
			newest = b.Versions[len(b.Versions)-1].Version
		}
		if *in.Version != newest+1 {
			return nil, nil, &failure{status: http.StatusPreconditionFailed, msg: "Not the next version.",
				header: http.Header{"Etag": {strconv.Quote(strconv.FormatInt(newest, 10))}}}
		}
		if b == nil {
			b = &Backup{}
			a.Backups[id] = b
		}
		v := Version{Data: *in.Data, Version: *in.Version, UpdatedAt: s.now}
		b.Versions = append(b.Versions, v)
		return map[string]any{"version": v.Version, "updatedAt": v.UpdatedAt},
			http.Header{"Etag": {strconv.Quote(strconv.FormatInt(v.Version, 10))}}, nil
	case b == nil:
		return nil, nil, fail(http.StatusNotFound, "No such backup.")
	case r.Method == http.MethodGet && sub == "":
		v := b.Versions[len(b.Versions)-1]
		if q := r.URL.Query().Get("version"); q != "" {
			n, _ := strconv.ParseInt(q, 10, 64)
			found := false
			for _, old := range b.Versions {
				if old.Version == n {
					v, found = old, true
				}
			}
			if !found {
				return nil, nil, fail(http.StatusNotFound, "No such version.")
			}
		}
		out := map[string]any{"data": v.Data, "version": v.Version, "updatedAt": v.UpdatedAt}
		if b.LegacyKey != "" {
			out["wrappedLegacyKey"] = b.LegacyKey
		}
		return out, http.Header{"Etag": {strconv.Quote(strconv.FormatInt(v.Version, 10))}}, nil
	case r.Method == http.MethodGet && sub == "versions":
		list := []map[string]any{}
		for i := len(b.Versions) - 1; i >= 0; i-- {
			v := b.Versions[i]
			list = append(list, map[string]any{"version": v.Version, "updatedAt": v.UpdatedAt, "size": len(v.Data)})
		}
		return map[string]any{"versions": list}, nil, nil
	case r.Method == http.MethodDelete && sub == "":
		delete(a.Backups, id)
		return map[string]any{"success": true}, nil, nil
	}
	return nil, nil, fail(http.StatusNotFound, "Not found.")
}

// v1Save is the one v1 route a v2 client meets: a save under a username
// that has moved.
func (s *Server) v1Save(r *http.Request) (any, http.Header, *failure) {
	var in struct {
		UserID     string `json:"userId"`
		StorageKey string `json:"storageKey"`
		Data       string `json:"data"`
	}
	if f := decode(r, &in); f != nil {
		return nil, nil, f
	}
	if s.Accounts[in.UserID] != nil {
		return nil, nil, fail(http.StatusConflict, "This username has moved to protocol v2; sign in with a v2 client.")
	}
	u := s.V1[in.UserID]
	if u == nil {
		u = &V1User{}
		s.V1[in.UserID] = u
	}
	if u.StorageKey == "" { // the first save of a registered user
		u.StorageKey = in.StorageKey
	}
	if u.StorageKey != in.StorageKey {
		return nil, nil, fail(http.StatusNotFound, "No such backup.")
	}
	v := Version{Data: in.Data, Version: int64(len(u.Versions) + 1), UpdatedAt: s.now}
	u.Versions = append(u.Versions, v)
	return map[string]any{"version": v.Version, "updatedAt": v.UpdatedAt}, nil, nil
}
