package clientcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

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
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, args []string, s *session) error {
		document, err := readDocument(cmd, args)
		if err != nil {
			return err
		}
		account, err := s.account(cmd, false)
		if err != nil {
			return err
		}
		result, err := account.SaveDocument(cmd.Context(), document)
		if err != nil {
			return err
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
	cmd.Flags().Int64Var(&version, "version", 0, "restore this version instead of the newest (see the versions command)")
	return withSession(cmd, lookupEnv, func(cmd *cobra.Command, args []string, s *session) error {
		if version < 0 {
			return fmt.Errorf("--version %d: versions are positive", version)
		}
		account, err := s.account(cmd, false)
		if err != nil {
			return err
		}
		document, err := account.RestoreVersion(cmd.Context(), version)
		if err != nil {
			return err
		}
		if len(args) == 0 {
			_, err = cmd.OutOrStdout().Write(document)
			return err
		}
		return os.WriteFile(args[0], document, 0o600)
	})
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
