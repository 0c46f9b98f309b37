package clientcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/dailyreps/backup/client"
)

// fakeServer keeps backups in memory and answers like the real server,
// enough to drive the commands end to end in-process.
type fakeServer struct {
	t      *testing.T
	secret []byte

	mu       sync.Mutex
	users    map[string]string   // userId -> storageKey, "" until the first save
	backups  map[string][]string // userId -> data by version
	requests int
}

func newFakeServer(t *testing.T, secret []byte) (*fakeServer, string) {
	t.Helper()
	f := &fakeServer{t: t, secret: secret, users: map[string]string{}, backups: map[string][]string{}}
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	return f, server.URL
}

func (f *fakeServer) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	body, _ := io.ReadAll(r.Body)
	if f.secret != nil {
		timestamp, _ := strconv.ParseInt(r.Header.Get(client.HeaderTimestamp), 10, 64)
		if r.Header.Get(client.HeaderSignature) != client.Sign(f.secret, timestamp, r.Method, r.RequestURI, body) {
			reply(w, http.StatusUnauthorized, `{"error":"bad signature"}`)
			return
		}
	}
	var in struct{ UserID, StorageKey, Data string }
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			f.t.Errorf("%s %s: body %q: %v", r.Method, r.URL.Path, body, err)
		}
	} else {
		in.UserID, in.StorageKey = r.URL.Query().Get("userId"), r.URL.Query().Get("storageKey")
	}

	owner, registered := f.users[in.UserID]
	known := registered && (owner == "" || owner == in.StorageKey)
	versions := f.backups[in.UserID]
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/register":
		if registered {
			reply(w, http.StatusConflict, `{"error":"already registered"}`)
			return
		}
		f.users[in.UserID] = ""
		reply(w, 200, `{"success":true}`)
	case !known:
		reply(w, http.StatusNotFound, `{"error":"no such backup"}`)
	case r.Method == "POST" && r.URL.Path == "/api/backup":
		f.users[in.UserID] = in.StorageKey
		f.backups[in.UserID] = append(versions, in.Data)
		reply(w, 200, fmt.Sprintf(`{"success":true,"updatedAt":"2025-03-01T10:20:30Z","version":%d}`, len(versions)+1))
	case r.Method == "GET" && r.URL.Path == "/api/backup":
		version := len(versions)
		if v := r.URL.Query().Get("version"); v != "" {
			version, _ = strconv.Atoi(v)
		}
		if version < 1 || version > len(versions) {
			reply(w, http.StatusNotFound, `{"error":"no such backup"}`)
			return
		}
		data, _ := json.Marshal(versions[version-1])
		reply(w, 200, fmt.Sprintf(`{"data":%s,"updatedAt":"2025-03-01T10:20:30Z","version":%d}`, data, version))
	case r.Method == "GET" && r.URL.Path == "/api/backup/versions":
		list := []client.VersionInfo{}
		for v := len(versions); v >= 1; v-- {
			list = append(list, client.VersionInfo{Version: int64(v), Size: int64(len(versions[v-1]))})
		}
		out, _ := json.Marshal(map[string]any{"versions": list})
		reply(w, 200, string(out))
	case r.Method == "DELETE" && r.URL.Path == "/api/user":
		delete(f.users, in.UserID)
		delete(f.backups, in.UserID)
		reply(w, 200, `{"success":true}`)
	default:
		reply(w, http.StatusNotFound, `{"error":"no such route"}`)
	}
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
