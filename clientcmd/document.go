package clientcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dailyreps/backup/client"
	"github.com/spf13/cobra"
)

// maxDocumentBytes only guards memory: the server's own limit, a few MiB,
// decides what it accepts.
const maxDocumentBytes = 64 << 20

func newSaveCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "save [FILE]",
		Short: "Encrypt a document and store it as the newest backup",
		Long: `Encrypt a document and store it as the newest backup.

The document is read from FILE, or from standard input without one. It must
be JSON, as the web app exports it, or the web app could not restore it.`,
		Args: cobra.MaximumNArgs(1),
	}
	var backup string
	return withV2Flags(cmd, lookupEnv, &backup, func(cmd *cobra.Command, args []string, s *session) error {
		useV2, err := s.wantsV2()
		if err != nil {
			return err
		}
		document, err := readDocument(cmd, args)
		if err != nil {
			return err
		}
		var result client.SaveResult
		if useV2 {
			a, err := s.signIn(cmd, true)
			if err != nil {
				return err
			}
			id, err := a.pickBackup(backup, true)
			if err != nil {
				return err
			}
			if err := a.do(func(sess *client.Session) (err error) {
				result, err = sess.Save(cmd.Context(), id, document)
				return err
			}); err != nil {
				return err
			}
		} else {
			account, err := s.account(cmd, false)
			if err != nil {
				return err
			}
			if result, err = account.SaveDocument(cmd.Context(), document); err != nil {
				return v2Hint(err)
			}
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "saved version %d at %s\n", result.Version, result.UpdatedAt.UTC().Format(time.RFC3339))
		return err
	})
}

func newRestoreCommand(lookupEnv lookupEnvFunc) *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "restore [FILE]",
		Short: "Fetch and decrypt the backup",
		Long: `Fetch and decrypt the backup, the newest or the one --version selects.

The document is written to FILE, readable by its owner only, or to standard
output without one.`,
		Args: cobra.MaximumNArgs(1),
	}
	var backup string
	var allowRollback bool
	cmd.Flags().Int64Var(&version, "version", 0, "restore this version instead of the newest (see the versions command)")
	cmd.Flags().BoolVar(&allowRollback, "allow-rollback", false, "protocol v2: restore the server's newest version even when a newer one was seen before")
	return withV2Flags(cmd, lookupEnv, &backup, func(cmd *cobra.Command, args []string, s *session) error {
		if version < 0 {
			return fmt.Errorf("--version %d: versions are positive", version)
		}
		useV2, err := s.wantsV2()
		if err != nil {
			return err
		}
		var document []byte
		if useV2 {
			if document, err = restoreV2(cmd, s, backup, version, allowRollback); err != nil {
				return err
			}
		} else {
			account, err := s.account(cmd, false)
			if err != nil {
				return err
			}
			if document, err = account.RestoreVersion(cmd.Context(), version); err != nil {
				return err
			}
		}
		if len(args) == 0 {
			_, err = cmd.OutOrStdout().Write(document)
			return err
		}
		return os.WriteFile(args[0], document, 0o600)
	})
}

// restoreV2 opens a version of a v2 backup. A server whose newest version
// is older than one this device saw is reported, and nothing is written
// unless allowRollback.
func restoreV2(cmd *cobra.Command, s *session, backup string, version int64, allowRollback bool) ([]byte, error) {
	a, err := s.signIn(cmd, true)
	if err != nil {
		return nil, err
	}
	id, err := a.pickBackup(backup, false)
	if err != nil {
		return nil, err
	}
	var restored client.Restored
	err = a.do(func(sess *client.Session) (err error) {
		restored, err = sess.Restore(cmd.Context(), id, version)
		return err
	})
	var rollback *client.RollbackError
	if errors.As(err, &rollback) {
		if !allowRollback {
			return nil, fmt.Errorf("%w; nothing was written (pass --allow-rollback to restore it anyway)", err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
		err = nil
	}
	return restored.Plaintext, err
}

func readDocument(cmd *cobra.Command, args []string) ([]byte, error) {
	source, name := cmd.InOrStdin(), "standard input"
	if len(args) == 1 {
		file, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer file.Close()
		source, name = file, args[0]
	}
	document, err := io.ReadAll(io.LimitReader(source, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(document) > maxDocumentBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, maxDocumentBytes>>20)
	}
	if !json.Valid(document) {
		return nil, errors.New(name + " is not JSON; the web app could not restore it")
	}
	return document, nil
}
