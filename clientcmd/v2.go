package clientcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Values of --protocol.
const (
	protocolAuto = "auto"
	protocolV1   = "v1"
	protocolV2   = "v2"
)

const protocolUsage = "v1, v2 or auto: v2 when this device is signed in to the account on this server (see login), v1 otherwise"

// wantsV2 resolves --protocol for a command on an existing account. auto
// follows what this device knows: an account it signed in to is a v2
// account, anything else keeps the v1 behaviour scripts rely on.
func (s *session) wantsV2() (bool, error) {
	switch s.protocol {
	case protocolV1:
		return false, nil
	case protocolV2:
		return true, nil
	case protocolAuto:
		if s.username == "" {
			return false, nil // the command's own check reports it
		}
		dir, err := configDir(s.lookupEnv)
		if err != nil {
			return false, nil
		}
		_, ok, err := storedSession(dir, s.server, client.UserID(s.username))
		return ok, err
	}
	return false, fmt.Errorf("--protocol %q: want v1, v2 or auto", s.protocol)
}

// v2Account is a signed-in v2 account as one command uses it.
type v2Account struct {
	s         *session
	cmd       *cobra.Command
	c         *client.Client
	dir       string
	sess      *client.Session
	password  string
	fromStore bool // sess was resumed from sessions.json
}

func (a *v2Account) ctx() context.Context { return a.cmd.Context() }

func (a *v2Account) opts() client.V2Options {
	invite, _ := a.s.lookupEnv(EnvInviteCode)
	return client.V2Options{InviteCode: invite, Seen: &client.FileSeenStore{Path: filepath.Join(a.dir, seenFile)}}
}

// newV2Account checks the flags and finds the configuration directory.
func (s *session) newV2Account(cmd *cobra.Command) (*v2Account, error) {
	if s.username == "" {
		return nil, errors.New("--username is required")
	}
	c, err := s.client(cmd)
	if err != nil {
		return nil, err
	}
	dir, err := configDir(s.lookupEnv)
	if err != nil {
		return nil, err
	}
	return &v2Account{s: s, cmd: cmd, c: c, dir: dir}, nil
}

// signIn gives a session: the one kept on this device while it lasts
// (unlocked with the password when needKey), or a new login.
func (s *session) signIn(cmd *cobra.Command, needKey bool) (*v2Account, error) {
	a, err := s.newV2Account(cmd)
	if err != nil {
		return nil, err
	}
	st, ok, err := storedSession(a.dir, s.server, client.UserID(s.username))
	if err != nil {
		return nil, err
	}
	if ok && st.ExpiresAt.After(time.Now()) {
		a.sess, a.fromStore = a.c.ResumeV2(st, a.opts()), true
		if !needKey {
			return a, nil
		}
		if a.password, err = readPassword(cmd, s.lookupEnv, false); err != nil {
			return nil, err
		}
		err := a.sess.Unlock(a.password)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, client.ErrWrongPassword) {
			return nil, err
		}
		// The password may have changed on another device: the server
		// decides.
	}
	return a, a.login()
}

func (a *v2Account) login() error {
	if a.password == "" {
		var err error
		if a.password, err = readPassword(a.cmd, a.s.lookupEnv, false); err != nil {
			return err
		}
	}
	sess, err := a.c.LoginV2(a.ctx(), a.s.username, a.password, a.opts())
	if err != nil {
		return err
	}
	a.sess, a.fromStore = sess, false
	return a.keep()
}

// keep records the session as it is now (a token replaced by a password
// change or an iteration raise included).
func (a *v2Account) keep() error {
	return keepSession(a.dir, a.s.server, a.sess.AccountID(), a.sess)
}

func (a *v2Account) forget() error {
	return keepSession(a.dir, a.s.server, client.UserID(a.s.username), nil)
}

// do runs op, signing in again once when the kept session has ended on the
// server (a logout, a password change or a recovery on another device).
func (a *v2Account) do(op func(*client.Session) error) error {
	err := op(a.sess)
	if a.fromStore && errors.Is(err, client.ErrSignInAgain) {
		if err := a.login(); err != nil {
			return err
		}
		err = op(a.sess)
	}
	return err
}

// pickBackup chooses the backup a command works on: --backup, else the
// account's only one. create draws a new id for an account without any.
func (a *v2Account) pickBackup(flag string, create bool) (string, error) {
	if flag != "" {
		return flag, nil
	}
	var list []client.BackupSummary
	if err := a.do(func(s *client.Session) (err error) { list, err = s.Backups(a.ctx()); return err }); err != nil {
		return "", err
	}
	switch {
	case len(list) == 1:
		return list[0].ID, nil
	case len(list) == 0 && create:
		return client.NewBackupID(), nil
	case len(list) == 0:
		return "", errors.New("the account has no backup yet")
	}
	ids := make([]string, len(list))
	for i, b := range list {
		ids[i] = b.ID
	}
	slices.Sort(ids)
	return "", fmt.Errorf("the account has %d backups; choose one with --backup: %s", len(list), strings.Join(ids, ", "))
}

// serverSpeaksV2 asks /api/info; a server that cannot say speaks v1.
func serverSpeaksV2(ctx context.Context, c *client.Client) bool {
	info, err := c.Info(ctx)
	return err == nil && slices.Contains(info.Protocols, protocolV2)
}

// onTerminal reports whether a person is at standard input.
func onTerminal(cmd *cobra.Command) (*os.File, bool) {
	f, ok := cmd.InOrStdin().(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

// recoveryCodeNotice is printed with every new code.
const recoveryCodeNotice = `Recovery code, shown this once. Write it down and keep it apart from this
device: it is the only way back into the account without the password.`

// confirmCode shows a new recovery code on the terminal and asks for it
// back before anything is sent; without a terminal it does nothing here,
// and the code is shown once the server has accepted it (showCode).
func confirmCode(cmd *cobra.Command, file string) func(string) error {
	in, ok := onTerminal(cmd)
	if !ok || file != "" {
		return nil
	}
	return func(code string) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "\n%s\n\n    %s\n\nType the recovery code to confirm that you kept it: ", recoveryCodeNotice, code)
		typed, err := readLine(in)
		if err != nil {
			return err
		}
		want, _ := v2crypto.ParseRecoveryCode(code)
		got, err := v2crypto.ParseRecoveryCode(typed)
		if err != nil || !bytes.Equal(got, want) {
			return errors.New("the code typed is not the recovery code; nothing was changed")
		}
		return nil
	}
}

// showCode hands a new recovery code over once the server accepted it:
// into file (readable by its owner only), or on standard error unless the
// person confirmed it already.
func showCode(cmd *cobra.Command, code, file string, confirmed bool) error {
	if file != "" {
		if err := client.WriteFilePrivate(file, []byte(code+"\n")); err != nil {
			return fmt.Errorf("the account is changed, but the recovery code could not be written (%w); it is: %s", err, code)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "recovery code written to %s\n", file)
		return nil
	}
	if !confirmed {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s\n\n    %s\n\n", recoveryCodeNotice, code)
	}
	return nil
}

// readLine reads up to a newline, byte by byte, so that nothing after it
// is taken from the terminal.
func readLine(f *os.File) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) < 200 {
		n, err := f.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				break
			}
			b = append(b, one[0])
		}
		if err != nil {
			return "", fmt.Errorf("read the recovery code: %w", err)
		}
	}
	return strings.TrimSpace(string(b)), nil
}

// readSecret takes a secret other than the password from the environment
// or a no-echo prompt; confirm asks twice.
func readSecret(cmd *cobra.Command, lookupEnv lookupEnvFunc, env, label string, confirm bool) (string, error) {
	if v, ok := lookupEnv(env); ok && v != "" {
		return v, nil
	}
	in, ok := onTerminal(cmd)
	if !ok {
		return "", fmt.Errorf("no %s: set %s, or run on a terminal to be prompted", strings.ToLower(label), env)
	}
	v, err := prompt(cmd, int(in.Fd()), label+": ")
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", fmt.Errorf("the %s is empty", strings.ToLower(label))
	}
	if confirm {
		again, err := prompt(cmd, int(in.Fd()), label+" again: ")
		if err != nil {
			return "", err
		}
		if again != v {
			return "", errors.New("the passwords do not match")
		}
	}
	return v, nil
}

// v2Hint adds what to do to a v1 refusal of a username that has moved.
func v2Hint(err error) error {
	if errors.Is(err, client.ErrMovedToV2) {
		return fmt.Errorf("%w; sign in with the login command, or pass --protocol v2", err)
	}
	return err
}
