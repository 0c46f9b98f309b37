package clientcmd

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/dailyreps/backup/client"
	"github.com/spf13/cobra"
)

func newRegisterCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var codeFile, protocol string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Create the account on the server",
		Long: `Create the account on the server.

Run on a terminal against a server that speaks protocol v2, it creates a v2
account: a recovery code is shown once and typed back before anything is
sent, and the session is kept on this device. Without a terminal it creates a
v1 account, as it always did, unless --protocol v2 is given (the code is then
printed on standard error, or written to --recovery-code-file).

A v1 account has no password reset: the password is the only key to its
backups.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&protocol, "protocol", protocolAuto, "v1, v2 or auto: v2 on a terminal when the server speaks it, v1 otherwise")
	cmd.Flags().StringVar(&codeFile, "recovery-code-file", "", "protocol v2: write the recovery code to this file (readable by its owner only) instead of showing it")
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		s.protocol = protocol
		if s.username == "" {
			return errors.New("--username is required")
		}
		c, err := s.client(cmd)
		if err != nil {
			return err
		}
		// The password before asking the server: a mistyped confirmation
		// sends nothing.
		password, err := readPassword(cmd, lookupEnv, true)
		if err != nil {
			return err
		}
		useV2, err := s.registersV2(cmd, c)
		if err != nil {
			return err
		}
		if useV2 {
			return registerV2(cmd, s, c, password, codeFile)
		}
		account, err := client.NewAccount(c, s.username, password)
		if err != nil {
			return err
		}
		invite, _ := lookupEnv(EnvInviteCode)
		if err := account.Register(cmd.Context(), invite); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "registered %s\n", s.username)
		return err
	})
}

func newVersionsCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var backup string
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List the kept versions of the backup, newest first",
		Args:  cobra.NoArgs,
	}
	return withV2Flags(cmd, lookupEnv, &backup, func(cmd *cobra.Command, _ []string, s *session) error {
		var versions []client.VersionInfo
		useV2, err := s.wantsV2()
		if err != nil {
			return err
		}
		if useV2 {
			a, err := s.signIn(cmd, false)
			if err != nil {
				return err
			}
			id, err := a.pickBackup(backup, false)
			if err != nil {
				return err
			}
			if err := a.do(func(sess *client.Session) (err error) { versions, err = sess.Versions(cmd.Context(), id); return err }); err != nil {
				return err
			}
		} else {
			account, err := s.account(cmd, false)
			if err != nil {
				return err
			}
			if versions, err = account.Versions(cmd.Context()); err != nil {
				return err
			}
		}
		table := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(table, "VERSION\tSAVED\tBYTES")
		for _, v := range versions {
			fmt.Fprintf(table, "%d\t%s\t%d\n", v.Version, v.UpdatedAt.UTC().Format(time.RFC3339), v.Size)
		}
		return table.Flush()
	})
}

func newDeleteCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var confirmed bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the account and every version of its backup",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&confirmed, "yes", false, "confirm the deletion, which cannot be undone")
	return withV2Flags(cmd, lookupEnv, nil, func(cmd *cobra.Command, _ []string, s *session) error {
		if useV2, err := s.wantsV2(); err != nil || useV2 {
			if err != nil {
				return err
			}
			return deleteV2(cmd, s, confirmed)
		}
		if !confirmed {
			return errors.New("deleting the account cannot be undone; pass --yes to confirm")
		}
		account, err := s.account(cmd, false)
		if err != nil {
			return err
		}
		if err := account.Delete(cmd.Context()); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted %s and all its backups\n", s.username)
		return err
	})
}

// registersV2 resolves register's --protocol: auto means v2 for a person at
// a terminal when the server speaks it. A script keeps creating v1
// accounts, as it always did: nobody would see its recovery code.
func (s *session) registersV2(cmd *cobra.Command, c *client.Client) (bool, error) {
	switch s.protocol {
	case protocolV1:
		return false, nil
	case protocolV2:
		return true, nil
	case protocolAuto:
		if _, ok := onTerminal(cmd); !ok {
			return false, nil
		}
		return serverSpeaksV2(cmd.Context(), c), nil
	}
	return false, fmt.Errorf("--protocol %q: want v1, v2 or auto", s.protocol)
}

// withV2Flags is withSession for the commands that speak both protocols:
// --protocol, and --backup when backup is not nil.
func withV2Flags(cmd *cobra.Command, lookupEnv lookupEnvFunc, backup *string, run func(*cobra.Command, []string, *session) error) *cobra.Command {
	var protocol string
	cmd.Flags().StringVar(&protocol, "protocol", protocolAuto, protocolUsage)
	if backup != nil {
		cmd.Flags().StringVar(backup, "backup", "", "protocol v2: the backup's id (see the backups command); needed when the account has several")
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, args []string, s *session) error {
		s.protocol = protocol
		return run(cmd, args, s)
	})
}
