package clientcmd

import (
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/dailyreps/backup/client"
	"github.com/spf13/cobra"
)

const defaultServer = "http://127.0.0.1:8090"

// session is what every subcommand needs to reach one account.
type session struct {
	server    string
	username  string
	protocol  string // --protocol, on the commands that have it
	lookupEnv lookupEnvFunc
}

func (s *session) bindFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.server, "server", defaultServer, "URL of the backup server")
	cmd.Flags().StringVar(&s.username, "username", "", "the account's username (required)")
}

// account checks the flags, reads the password and derives the keys.
func (s *session) account(cmd *cobra.Command, confirmPassword bool) (*client.Account, error) {
	if s.username == "" {
		return nil, errors.New("--username is required")
	}
	c, err := s.client(cmd)
	if err != nil {
		return nil, err
	}
	password, err := readPassword(cmd, s.lookupEnv, confirmPassword)
	if err != nil {
		return nil, err
	}
	return client.NewAccount(c, s.username, password)
}

func (s *session) client(cmd *cobra.Command) (*client.Client, error) {
	server, err := url.Parse(s.server)
	if err != nil || (server.Scheme != "http" && server.Scheme != "https") || server.Host == "" {
		return nil, errors.New("--server is not an http(s)://host[:port] URL")
	}
	if server.Scheme == "http" && !isLoopback(server.Hostname()) {
		// The backup stays encrypted, but the storage key travels in the
		// clear and lets an eavesdropper overwrite or delete the account.
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is not HTTPS; the storage key will cross the network unencrypted\n", server.Redacted())
	}
	c := &client.Client{BaseURL: s.server}
	if secret, ok := s.lookupEnv(EnvHMACSecret); ok && secret != "" {
		c.Secret = []byte(secret)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
