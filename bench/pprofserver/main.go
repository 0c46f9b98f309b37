// Command pprofserver is the backup server as main.go builds it (minus the
// embedded web client), with net/http/pprof on a second, loopback-only
// listener. The benchmark runs it in place of the real binary when asked to
// profile (-pprof): the production binary never exposes profiles.
//
//	pprofserver -pprof-addr 127.0.0.1:6061 serve --http 127.0.0.1:8090 --dir DIR
package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/pocketbase/pocketbase"

	"github.com/dailyreps/backup/config"
	_ "github.com/dailyreps/backup/migrations"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/store/sqlite"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run() error {
	// The flag comes first and is taken off the arguments before PocketBase
	// (cobra) parses the rest.
	if len(os.Args) < 3 || os.Args[1] != "-pprof-addr" {
		return errors.New("usage: pprofserver -pprof-addr HOST:PORT serve [PocketBase flags]")
	}
	addr := os.Args[2]
	os.Args = append(os.Args[:1], os.Args[3:]...)
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return errors.New("-pprof-addr must be a loopback address")
	}
	if err := servePprof(addr); err != nil {
		return err
	}

	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDev: false, DBConnect: sqlite.DBConnect,
		DataMaxOpenConns: sqlite.ReadConns(), DataMaxIdleConns: sqlite.ReadConns()})
	server.Register(app, cfg, server.Options{})
	return app.Start()
}

func servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return nil
}
