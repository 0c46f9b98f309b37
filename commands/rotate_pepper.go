package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/server"
)

func newRotatePepperCommand(app *pocketbase.PocketBase, cfg config.Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-pepper",
		Short: "Add a new key to the pepper and re-key every stored id with it",
		Long: `Rotate the pepper: append a freshly generated key to it and re-key every
stored id (users, backups, history, activity) with that key, in one database
transaction. Every backup stays readable with the new pepper, and only with it.

Stop every server instance first: one still running keeps the old pepper and
answers 404 to every user. Take a backup of the database beforehand and keep
the old pepper with it.

With a pepper file, the command replaces the file. With DAILYREPS_PEPPER, it
prints the new value: set it before starting the server again, which refuses
to start with the old one.

If the run is interrupted, run it again. The new pepper is written to the
pepper file's path plus "` + pepper.PendingSuffix + `" before the database changes, and the next run
finishes the rotation or starts over, as the database shows is needed.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true, // main prints the error once
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rotatePepper(cmd.Context(), app, cfg, cmd.OutOrStdout())
		},
	}
	// PocketBase discards its root command's error output.
	cmd.SetErr(os.Stderr)
	return cmd
}

// rotatePepper moves the database to a pepper with one more key. The order
// makes every crash recoverable: the new pepper is durable (pending) before
// the re-key commits, and the re-key, with the new fingerprint, is one
// transaction, so the fingerprint always says which of the two peppers opens
// the database.
func rotatePepper(ctx context.Context, app core.App, cfg config.Config, out io.Writer) error {
	path := server.PepperPath(app, cfg)
	pending := path + pepper.PendingSuffix

	st, current, err := openStore(ctx, app, cfg)
	if errors.Is(err, pepper.ErrMismatch) {
		return resumeRotation(ctx, app, cfg, path, pending, out)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	next, err := current.Rotated()
	if err != nil {
		return fmt.Errorf("generate a pepper key: %w", err)
	}
	// A pending file left by a run that stopped before its re-key is
	// overwritten here: the database still opens with the current pepper.
	if err := pepper.WriteFile(pending, next); err != nil {
		return err
	}
	if err := st.Rekey(ctx, next.Rekey, next.Fingerprint()); err != nil {
		// Keep the pending file: a commit that reported an error may still
		// have been applied, and only the fingerprint can tell.
		return fmt.Errorf("re-key the database: %w (run rotate-pepper again: it finishes the rotation or starts over)", err)
	}
	return finishRotation(cfg, path, pending, next, out)
}

// resumeRotation is for a database the configured pepper does not open. If
// the pending pepper opens it, an earlier run re-keyed the database and
// stopped before replacing the pepper: this run finishes it.
func resumeRotation(ctx context.Context, app core.App, cfg config.Config, path, pending string, out io.Writer) error {
	if _, err := os.Stat(pending); errors.Is(err, fs.ErrNotExist) {
		return pepper.ErrMismatch
	} else if err != nil {
		return err
	}
	resumed := cfg
	resumed.Pepper, resumed.PepperFile = nil, pending
	st, next, err := server.OpenStore(ctx, app, resumed)
	if errors.Is(err, pepper.ErrMismatch) {
		return fmt.Errorf("neither the configured pepper nor %s opens this database: %w", pending, err)
	}
	if err != nil {
		return err
	}
	_ = st.Close()
	fmt.Fprintf(out, "Finishing an interrupted rotation: the database was already re-keyed with %s.\n", pending)
	return finishRotation(cfg, path, pending, next, out)
}

// finishRotation puts the new pepper where the server reads it: the pepper
// file, or, for DAILYREPS_PEPPER, the operator's hands.
func finishRotation(cfg config.Config, path, pending string, next *pepper.Pepper, out io.Writer) error {
	if len(cfg.Pepper) > 0 {
		// The pending file stays until the operator has the value: were this
		// output lost, it would be the only copy of the key.
		fmt.Fprintf(out, `The database is re-keyed. The server refuses to start until DAILYREPS_PEPPER is
set to the new value on every instance; the old value no longer opens the database:

DAILYREPS_PEPPER=%s

Replace your offline copy of the pepper with this value. It is also saved in
%s (readable by its owner only) in case this output is lost:
delete that file once the variable is set.
`, next.EnvValue(), pending)
		return nil
	}
	if err := pepper.ReplaceFile(pending, path); err != nil {
		return fmt.Errorf("the database is re-keyed but %s was not replaced: %w (run rotate-pepper again to finish)", path, err)
	}
	fmt.Fprintf(out, `The database is re-keyed and %s holds the new pepper (the old keys
followed by the new one). Replace your offline copy of the pepper file with it:
the old copy no longer opens the database.
`, path)
	return nil
}
