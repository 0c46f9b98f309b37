package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/spf13/cobra"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/store"
)

// Invite codes carry 100 random bits: far beyond online guessing, and
// beyond brute-forcing the unsalted hashes a stolen database holds.
const (
	inviteGroups    = 5
	inviteGroupSize = 4
	maxInvites      = 1000
)

func newInviteCommand(app *pocketbase.PocketBase, cfg config.Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Mint invite codes for DAILYREPS_REGISTRATION=invite",
		Long: `Mint single-use invite codes for servers whose registration is by invite
(DAILYREPS_REGISTRATION=invite). A client sends one in the X-Invite-Code header
when it registers; each code registers one user, once.

Run it with the same environment as the server (DAILYREPS_DATABASE_URL,
DAILYREPS_PEPPER or the data directory), while the server runs or not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// PocketBase discards its root command's error output, where the
	// notes for the operator go.
	cmd.SetErr(os.Stderr)
	cmd.AddCommand(newInviteCreateCommand(app, cfg))
	return cmd
}

func newInviteCreateCommand(app *pocketbase.PocketBase, cfg config.Config) *cobra.Command {
	var count int
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create invite codes and print them, one per line",
		Long: `Create invite codes and print them on standard output, one per line.

The server keeps only a hash of each code: copy them when they are printed,
they cannot be shown again. Unused codes are deleted when they expire.`,
		Example:       "  dailyreps-backup invite create --count 3 --expires 72h",
		Args:          cobra.NoArgs,
		SilenceErrors: true, // main prints the error once
		SilenceUsage:  true, // and the usage would land on stdout, among the codes
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 1 || count > maxInvites {
				return fmt.Errorf("--count must be between 1 and %d", maxInvites)
			}
			if expires <= 0 {
				return errors.New("--expires must be a positive duration such as 72h")
			}
			st, _, err := openStore(cmd.Context(), app, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			return createInvites(cmd.Context(), st, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, count, expires, time.Now())
		},
	}
	cmd.Flags().IntVar(&count, "count", 1, "how many codes to create")
	cmd.Flags().DurationVar(&expires, "expires", 7*24*time.Hour, "how long each code stays valid")
	return cmd
}

// createInvites stores count codes and prints each once it is stored, so
// that after a failure the codes printed are exactly the usable ones.
func createInvites(ctx context.Context, st store.Store, out, notes io.Writer, cfg config.Config,
	count int, ttl time.Duration, now time.Time) error {
	until := now.Add(ttl)
	for i := range count {
		code := newInviteCode()
		if err := st.CreateInvite(ctx, routes.InviteHash(code), until, now); err != nil {
			return fmt.Errorf("stored %d of %d invite codes: %w", i, count, err)
		}
		if _, err := fmt.Fprintln(out, code); err != nil {
			return err
		}
	}
	plural := "s"
	if count == 1 {
		plural = ""
	}
	fmt.Fprintf(notes, "%d invite code%s, each good for one registration until %s.\n"+
		"Only their hashes are stored: copy them now, they cannot be shown again.\n",
		count, plural, until.UTC().Format("2006-01-02 15:04 MST"))
	if cfg.Registration != config.RegistrationInvite {
		fmt.Fprintf(notes, "Note: registration is %s; the codes take effect once DAILYREPS_REGISTRATION=invite.\n",
			cfg.Registration)
	}
	return nil
}

// newInviteCode returns a code such as 7KQX-M2ZD-AR4N-WB5H-TE3Y: base32
// (no 0, 1, 8 or 9 to confuse with letters), grouped for reading aloud.
func newInviteCode() string {
	text := rand.Text() // 26 base32 characters from crypto/rand
	groups := make([]string, inviteGroups)
	for i := range groups {
		groups[i] = text[i*inviteGroupSize : (i+1)*inviteGroupSize]
	}
	return strings.Join(groups, "-")
}
