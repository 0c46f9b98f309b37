package clientcmd

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/dailyreps/backup/client"
	"github.com/spf13/cobra"
)

// The commands of protocol v2 that v1 has no counterpart for. register,
// save, restore, versions and delete speak v2 too; see their --protocol.

func newLoginCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a protocol v2 account and keep the session on this device",
		Long: `Sign in to a protocol v2 account and keep the session on this device.

The session lasts an hour; the commands that follow speak protocol v2 for this
account and sign in again by themselves when it has ended.`,
		Args: cobra.NoArgs,
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		a, err := s.newV2Account(cmd)
		if err != nil {
			return err
		}
		if err := a.login(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "signed in as %s until %s\n", s.username, a.sess.ExpiresAt().UTC().Format(time.RFC3339))
		return err
	})
}

func newLogoutCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "End the session of a protocol v2 account and forget it on this device",
		Args:  cobra.NoArgs,
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		a, err := s.newV2Account(cmd)
		if err != nil {
			return err
		}
		st, ok, err := storedSession(a.dir, s.server, client.UserID(s.username))
		if err != nil {
			return err
		}
		if ok {
			err := a.c.ResumeV2(st.SessionState, a.opts()).Logout(cmd.Context())
			if err != nil && !errors.Is(err, client.ErrSignInAgain) {
				return err
			}
			if err := a.forget(); err != nil {
				return err
			}
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "signed out %s\n", s.username)
		return err
	})
}

func newBackupsCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "List the backups of a protocol v2 account",
		Args:  cobra.NoArgs,
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		a, err := s.signIn(cmd, false)
		if err != nil {
			return err
		}
		var list []client.BackupSummary
		if err := a.do(func(sess *client.Session) (err error) { list, err = sess.Backups(cmd.Context()); return err }); err != nil {
			return err
		}
		table := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(table, "BACKUP\tVERSION\tSAVED\tBYTES")
		for _, b := range list {
			fmt.Fprintf(table, "%s\t%d\t%s\t%d\n", b.ID, b.Version, b.UpdatedAt.UTC().Format(time.RFC3339), b.Size)
		}
		return table.Flush()
	})
}

func newPasswdCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change the password of a protocol v2 account",
		Long: `Change the password of a protocol v2 account.

The backups are not uploaded again: only the key that opens them is wrapped
under the new password. The old password stops working at once, and every
other session of the account ends. The new password comes from
` + EnvNewPassword + ` or a prompt.`,
		Args: cobra.NoArgs,
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		a, err := s.signIn(cmd, true)
		if err != nil {
			return err
		}
		next, err := readSecret(cmd, lookupEnv, EnvNewPassword, "New password", true)
		if err != nil {
			return err
		}
		if err := a.do(func(sess *client.Session) error { return sess.ChangePassword(cmd.Context(), a.password, next) }); err != nil {
			return err
		}
		if err := a.keep(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "changed the password of %s; every other session has ended\n", s.username)
		return err
	})
}

func newRecoverCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var codeFile string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Set a new password with the recovery code",
		Long: `Set a new password for a protocol v2 account with its recovery code.

Every backup and version is kept. The code is used up: a new one is shown once
(or written to --recovery-code-file), and every session of the account ends.
The code comes from ` + EnvRecoveryCode + ` or a prompt, the new password from
` + EnvNewPassword + ` or a prompt.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&codeFile, "recovery-code-file", "", "write the new recovery code to this file (readable by its owner only) instead of showing it")
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		a, err := s.newV2Account(cmd)
		if err != nil {
			return err
		}
		code, err := readSecret(cmd, lookupEnv, EnvRecoveryCode, "Recovery code", false)
		if err != nil {
			return err
		}
		next, err := readSecret(cmd, lookupEnv, EnvNewPassword, "New password", true)
		if err != nil {
			return err
		}
		opts := a.opts()
		opts.ConfirmRecoveryCode = confirmCode(cmd, codeFile)
		sess, newCode, err := a.c.RecoverV2(cmd.Context(), s.username, code, next, opts)
		if err != nil {
			return err
		}
		a.sess = sess
		if err := showCode(cmd, newCode, codeFile, opts.ConfirmRecoveryCode != nil); err != nil {
			return err
		}
		if err := a.keep(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "set a new password for %s; the old recovery code no longer works\n", s.username)
		return err
	})
}

func newUpgradeCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var codeFile string
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Move a v1 backup into a protocol v2 account",
		Long: `Move the v1 backup of this username and password, with every version, into a
protocol v2 account, in one step on the server. The v1 key stops working; the
DailyReps web app must then sign in with protocol v2 as well.

An interrupted upgrade is sent again with the same keys and loses nothing. The
recovery code is shown once the server has confirmed the upgrade.

With --into-account, a v1 backup of the same username saved under another
(older) password joins the existing account instead: the account's password
comes as usual, the backup's from ` + EnvV1Password + ` or a prompt.`,
		Args: cobra.NoArgs,
	}
	var into bool
	cmd.Flags().StringVar(&codeFile, "recovery-code-file", "", "write the recovery code to this file (readable by its owner only) instead of showing it")
	cmd.Flags().BoolVar(&into, "into-account", false, "move a v1 backup saved under another (older) password into the existing account; that password comes from "+EnvV1Password+" or a prompt")
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		if into {
			return addV1Backup(cmd, s)
		}
		a, err := s.newV2Account(cmd)
		if err != nil {
			return err
		}
		if a.password, err = readPassword(cmd, lookupEnv, false); err != nil {
			return err
		}
		sess, code, err := a.c.UpgradeV1(cmd.Context(), s.username, a.password, a.opts())
		if err != nil {
			return err
		}
		a.sess = sess
		if err := showCode(cmd, code, codeFile, false); err != nil {
			return err
		}
		if err := a.keep(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "upgraded %s to protocol v2\n", s.username)
		return err
	})
}

func newDeleteAccountCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var confirmed bool
	cmd := &cobra.Command{
		Use:   "delete-account",
		Short: "Delete a protocol v2 account and every backup in it",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&confirmed, "yes", false, "confirm the deletion, which cannot be undone")
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		return deleteV2(cmd, s, confirmed)
	})
}

// deleteV2 deletes the account; the password is asked even with a session.
func deleteV2(cmd *cobra.Command, s *session, confirmed bool) error {
	if !confirmed {
		return errors.New("deleting the account cannot be undone; pass --yes to confirm")
	}
	a, err := s.signIn(cmd, true)
	if err != nil {
		return err
	}
	if err := a.do(func(sess *client.Session) error { return sess.DeleteAccount(cmd.Context(), a.password) }); err != nil {
		return err
	}
	if err := a.forget(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted %s and all its backups\n", s.username)
	return err
}

// registerV2 creates a v2 account. On a terminal the recovery code is shown
// and typed back before anything is sent.
func registerV2(cmd *cobra.Command, s *session, c *client.Client, password, codeFile string) error {
	dir, err := configDir(s.lookupEnv)
	if err != nil {
		return err
	}
	a := &v2Account{s: s, cmd: cmd, c: c, dir: dir, password: password}
	opts := a.opts()
	opts.ConfirmRecoveryCode = confirmCode(cmd, codeFile)
	sess, code, err := a.c.RegisterV2(cmd.Context(), s.username, a.password, opts)
	if err != nil {
		return err
	}
	a.sess = sess
	if err := showCode(cmd, code, codeFile, opts.ConfirmRecoveryCode != nil); err != nil {
		return err
	}
	if err := a.keep(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "registered %s (protocol v2)\n", s.username)
	return err
}

// addV1Backup moves a v1 backup kept under an older password into the
// account.
func addV1Backup(cmd *cobra.Command, s *session) error {
	a, err := s.signIn(cmd, true)
	if err != nil {
		return err
	}
	v1Password, err := readSecret(cmd, s.lookupEnv, EnvV1Password, "Password of the v1 backup", false)
	if err != nil {
		return err
	}
	var id string
	if err := a.do(func(sess *client.Session) (err error) {
		id, err = sess.AddV1Backup(cmd.Context(), s.username, v1Password, a.password)
		return err
	}); err != nil {
		return err
	}
	if err := a.keep(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "moved a v1 backup of %s into the account as backup %s\n", s.username, id)
	return err
}
