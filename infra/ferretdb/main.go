// Command ferretdb-launcher runs FerretDB, embedded from its Go module with the SQLite handler, as a
// MongoDB-compatible server for local runs and tests on machines without mongod.
//
// It prints one JSON line, {"uri":"mongodb://127.0.0.1:<port>/"}, once it listens (so -listen may use
// port 0), stops cleanly on SIGINT or SIGTERM, and with -exit-on-stdin-eof also when its parent closes
// its standard input, so an orphaned launcher cannot outlive the harness that started it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -debug-addr
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on; port 0 picks a free port")
	dataDir := flag.String("data", ".data/ferretdb", "directory for the SQLite databases (one file per database)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	exitOnEOF := flag.Bool("exit-on-stdin-eof", false, "exit when standard input is closed")
	debugAddr := flag.String("debug-addr", "", "if set, serve Go's /debug/pprof profiles on this address (for npm run bench --profile)")
	synchronous := flag.String("synchronous", "normal", "SQLite's synchronous setting: full (sync the log at every commit) or normal (at checkpoints)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fatal("invalid -log-level", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// FerretDB writes every statement of an update command in a transaction of its own. With SQLite's
	// default, synchronous=full, each commit waits for the disk; with normal, in WAL mode, a commit
	// survives a crash of this process and only the last commits can be lost to a crash of the machine,
	// which is what a development and test database needs.
	if *synchronous != "full" && *synchronous != "normal" {
		fatal("invalid -synchronous", fmt.Errorf("%q is neither full nor normal", *synchronous))
	}

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		fatal("cannot create the data directory", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/?_pragma=synchronous(" + *synchronous + ")",
	})
	if err != nil {
		fatal("cannot start FerretDB", err)
	}

	if *debugAddr != "" {
		go func() {
			if err := http.ListenAndServe(*debugAddr, nil); err != nil {
				logger.Error("debug server stopped", "error", err)
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			logger.Error("FerretDB stopped", "error", err)
		}
	}()

	// MongoDBURI waits until the listener is bound, so the port printed is the real one.
	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{"uri": f.MongoDBURI()}); err != nil {
		fatal("cannot write the URI", err)
	}
	<-done
}

func fatal(msg string, err error) {
	slog.Error(msg, "error", err)
	os.Exit(1)
}
