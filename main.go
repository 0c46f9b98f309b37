// Command dailyreps-backup is the DailyReps Backup server: a zero-knowledge
// backup service for the DailyReps web app, on PocketBase.
package main

import (
	"embed"
	"fmt"
	"io/fs"
	"os"

	"github.com/pocketbase/pocketbase"

	"github.com/dailyreps/backup/clientcmd"
	"github.com/dailyreps/backup/commands"
	"github.com/dailyreps/backup/config"
	_ "github.com/dailyreps/backup/migrations"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/store/sqlite"
)

//go:embed all:pb_public
var public embed.FS

func main() {
	if err := run(); err != nil {
		// The client commands print their own one-line message.
		if !clientcmd.AlreadyReported(err) {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(1)
	}
}

func run() error {
	// The client needs neither the server's configuration nor a data
	// directory; see clientcmd.Execute.
	if len(os.Args) > 1 && os.Args[1] == "client" {
		return clientcmd.Execute(os.Args[2:])
	}
	// health probes a running server: PocketBase would first open the data
	// directory that server is using, so it runs on its own, like client.
	if len(os.Args) > 1 && os.Args[1] == "health" {
		health := commands.NewHealthCommand()
		health.SetArgs(os.Args[2:])
		return health.Execute()
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	// Dev mode prints every SQL statement, backups included: off unless --dev.
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDev: false, DBConnect: sqlite.DBConnect,
		DataMaxOpenConns: sqlite.ReadConns(), DataMaxIdleConns: sqlite.ReadConns()})
	site, _ := fs.Sub(public, "pb_public")
	server.Register(app, cfg, server.Options{Public: site})
	commands.Add(app, cfg)
	return app.Start()
}
