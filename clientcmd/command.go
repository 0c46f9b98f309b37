// Package clientcmd is the command-line face of package client: it lets a
// user register, back up and restore a DailyReps account from a shell.
package clientcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// Environment variables the client commands read. Secrets come from the
// environment or a prompt, never from arguments, which other local users
// can read from the process list.
const (
	EnvPassword   = "DAILYREPS_PASSWORD"
	EnvHMACSecret = "DAILYREPS_HMAC_SECRET"
	EnvInviteCode = "DAILYREPS_INVITE_CODE"

	EnvNewPassword  = "DAILYREPS_NEW_PASSWORD"
	EnvRecoveryCode = "DAILYREPS_RECOVERY_CODE"
	EnvV1Password   = "DAILYREPS_V1_PASSWORD"
	EnvConfigDir    = "DAILYREPS_CONFIG_DIR"
)

// lookupEnvFunc has the signature of os.LookupEnv, which tests replace.
type lookupEnvFunc func(key string) (string, bool)

// NewCommand returns the "client" command and its subcommands.
func NewCommand() *cobra.Command {
	cmd := newCommand(os.LookupEnv)
	// PocketBase discards its root command's error output, and subcommands
	// inherit it: without this, failures would be silent.
	cmd.SetErr(os.Stderr)
	return cmd
}

// Execute runs the client command on args, the words after "client", for
// a main function that dispatches to it before starting PocketBase: the
// client only talks to a server over HTTP, and under PocketBase it would
// read the server's configuration and create a data directory beside the
// binary, failing for users who cannot write there.
func Execute(args []string) error {
	root := &cobra.Command{
		Use:           filepath.Base(os.Args[0]),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(NewCommand())
	root.SetArgs(append([]string{"client"}, args...))
	return root.Execute()
}

func newCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Back up and restore a DailyReps account from the command line",
		Long: `Back up and restore a DailyReps account from the command line.

The document is encrypted here, with a key derived from the password, before
it is sent; the server never sees the password or the plaintext.

Accounts of protocol v2 (register on a terminal, login, upgrade) sign in with
a session that this device keeps for an hour in the configuration directory;
their password can be changed, and a forgotten one replaced with the recovery
code shown once at registration. Without a session on this device the
commands speak protocol v1, as they always did; --protocol chooses.

Environment:
  ` + EnvPassword + `      the password; without it, you are prompted on the terminal
  ` + EnvNewPassword + `  the new password, for passwd and recover
  ` + EnvRecoveryCode + ` the recovery code, for recover
  ` + EnvV1Password + `   an older v1 backup's password, for upgrade --into-account
  ` + EnvHMACSecret + `   the server's request-signing secret, if it has one
  ` + EnvInviteCode + `   the invite code, for servers that register by invite
  ` + EnvConfigDir + `    where sessions are kept (default: $XDG_CONFIG_HOME or
                          ~/.config, then dailyreps-backup)`,
		Args:          reported(cobra.NoArgs),
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetFlagErrorFunc(report)
	cmd.AddCommand(
		newRegisterCommand(lookupEnv),
		newSaveCommand(lookupEnv),
		newRestoreCommand(lookupEnv),
		newVersionsCommand(lookupEnv),
		newDeleteCommand(lookupEnv),
		newLoginCommand(lookupEnv),
		newLogoutCommand(lookupEnv),
		newBackupsCommand(lookupEnv),
		newPasswdCommand(lookupEnv),
		newRecoverCommand(lookupEnv),
		newUpgradeCommand(lookupEnv),
		newDeleteAccountCommand(lookupEnv),
	)
	return cmd
}

// withSession gives a subcommand the flags every subcommand shares and
// makes sure its failures are printed.
func withSession(cmd *cobra.Command, lookupEnv lookupEnvFunc, run func(*cobra.Command, []string, *session) error) *cobra.Command {
	s := &session{lookupEnv: lookupEnv}
	s.bindFlags(cmd)
	cmd.Args = reported(cmd.Args)
	cmd.RunE = reported(func(cmd *cobra.Command, args []string) error { return run(cmd, args, s) })
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	return cmd
}

// reported prints a failure before handing it back to cobra. The root
// command belongs to PocketBase, which prints no errors itself.
func reported(run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	if run == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := run(cmd, args); err != nil {
			return report(cmd, err)
		}
		return nil
	}
}

func report(cmd *cobra.Command, err error) error {
	message := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", cmd.CommandPath(), message)
	return reportedError{err}
}

// reportedError marks an error that a command has printed already.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

// AlreadyReported tells a main function that prints the errors coming out
// of PocketBase's root command to skip those the client command printed.
func AlreadyReported(err error) bool {
	var reported reportedError
	return errors.As(err, &reported)
}
