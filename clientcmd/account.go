package clientcmd

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newRegisterCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Create the account on the server",
		Long: `Create the account on the server.

There is no password reset: the password is the only key to the backups.`,
		Args: cobra.NoArgs,
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		account, err := s.account(cmd, true)
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
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List the kept versions of the backup, newest first",
		Args:  cobra.NoArgs,
	}
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
		account, err := s.account(cmd, false)
		if err != nil {
			return err
		}
		versions, err := account.Versions(cmd.Context())
		if err != nil {
			return err
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
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, _ []string, s *session) error {
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
