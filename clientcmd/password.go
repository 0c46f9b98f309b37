package clientcmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// readPassword takes the password from the environment or, failing that,
// from a no-echo prompt. confirm asks twice, for registration: the server
// cannot reset a password, so a typo there would lock the account for good.
func readPassword(cmd *cobra.Command, lookupEnv lookupEnvFunc, confirm bool) (string, error) {
	if password, ok := lookupEnv(EnvPassword); ok && password != "" {
		return password, nil
	}
	stdin, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(stdin.Fd())) {
		return "", fmt.Errorf("no password: set %s, or run on a terminal to be prompted", EnvPassword)
	}
	fd := int(stdin.Fd())
	password, err := prompt(cmd, fd, "Password: ")
	if err != nil {
		return "", err
	}
	if password == "" {
		return "", errors.New("the password is empty")
	}
	if confirm {
		again, err := prompt(cmd, fd, "Password again: ")
		if err != nil {
			return "", err
		}
		if again != password {
			return "", errors.New("the passwords do not match")
		}
	}
	return password, nil
}

func prompt(cmd *cobra.Command, fd int, label string) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), label)
	password, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(password), nil
}
