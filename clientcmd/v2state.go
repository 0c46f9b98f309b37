package clientcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dailyreps/backup/client"
)

// What a protocol v2 login leaves on this device, in the configuration
// directory, readable by its owner only:
//   - sessions.json: per server and account, the session token (a bearer
//     secret until it expires, an hour after the login) and the password
//     material the server keeps anyway (KDF parameters and the wrapped data
//     key), so that a later command needs the password for one local slow
//     step rather than a login. Nothing in it decrypts without the password.
//   - seen.json: the highest version seen of each backup, which is how a
//     restore notices a server serving an old copy as the newest.

const (
	sessionsFile = "sessions.json"
	seenFile     = "seen.json"
)

// configDir finds the directory from the environment: DAILYREPS_CONFIG_DIR,
// or the XDG location, or ~/.config. It is read through lookupEnv so that
// tests never touch a real home.
func configDir(lookupEnv lookupEnvFunc) (string, error) {
	if dir, ok := lookupEnv(EnvConfigDir); ok && dir != "" {
		return dir, nil
	}
	if dir, ok := lookupEnv("XDG_CONFIG_HOME"); ok && filepath.IsAbs(dir) {
		return filepath.Join(dir, "dailyreps-backup"), nil
	}
	if home, ok := lookupEnv("HOME"); ok && filepath.IsAbs(home) {
		return filepath.Join(home, ".config", "dailyreps-backup"), nil
	}
	if dir, ok := lookupEnv("APPDATA"); ok && filepath.IsAbs(dir) {
		return filepath.Join(dir, "dailyreps-backup"), nil
	}
	return "", fmt.Errorf("no configuration directory: set %s", EnvConfigDir)
}

func sessionKey(server, accountID string) string {
	return strings.TrimRight(server, "/") + " " + accountID
}

func loadSessions(dir string) (map[string]client.SessionState, error) {
	raw, err := os.ReadFile(filepath.Join(dir, sessionsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]client.SessionState{}, nil
	}
	if err != nil {
		return nil, err
	}
	sessions := map[string]client.SessionState{}
	if err := json.Unmarshal(raw, &sessions); err != nil {
		return nil, fmt.Errorf("%s is damaged; delete it and sign in again: %w", filepath.Join(dir, sessionsFile), err)
	}
	return sessions, nil
}

// storedSession returns the session kept for the account on the server.
func storedSession(dir, server, accountID string) (client.SessionState, bool, error) {
	sessions, err := loadSessions(dir)
	if err != nil {
		return client.SessionState{}, false, err
	}
	st, ok := sessions[sessionKey(server, accountID)]
	return st, ok, nil
}

// keepSession records a session, or forgets the account's with a nil one.
func keepSession(dir, server, accountID string, s *client.Session) error {
	sessions, err := loadSessions(dir)
	if err != nil {
		return err
	}
	if s == nil {
		if _, ok := sessions[sessionKey(server, accountID)]; !ok {
			return nil
		}
		delete(sessions, sessionKey(server, accountID))
	} else {
		sessions[sessionKey(server, accountID)] = s.State()
	}
	raw, err := json.MarshalIndent(sessions, "", "  ")
	if err != nil {
		return err
	}
	return client.WriteFilePrivate(filepath.Join(dir, sessionsFile), raw)
}
