package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dualdb/dualdb/cluster"
)

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var (
		cfg     cluster.Config
		timeout time.Duration
	)
	fs.StringVar(&cfg.ID, "id", "", "this node's id, unique in the cluster (required)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory of raft's log and snapshots (required)")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "", "HOST:PORT for raft traffic (required)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "", "HOST:PORT for the HTTP API (required)")
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "start a new one-node cluster if DIR holds no raft state")
	fs.StringVar(&cfg.Join, "join", "", "HTTP address of a node of the cluster to join")
	fs.DurationVar(&timeout, "raft-timeout", cluster.DefaultElectionTimeout, "raft heartbeat and election timeout")
	fs.Uint64Var(&cfg.SnapshotThreshold, "snapshot-threshold", cluster.DefaultSnapshotThreshold, "log entries between raft snapshots")
	fs.DurationVar(&cfg.SnapshotInterval, "snapshot-interval", cluster.DefaultSnapshotInterval, "how often raft checks whether a snapshot is due")
	fs.Uint64Var(&cfg.TrailingLogs, "trailing-logs", cluster.DefaultTrailingLogs, "log entries kept after a snapshot")
	fs.StringVar(&cfg.RaftLogLevel, "raft-log-level", "WARN", "level of raft's own log: DEBUG, INFO, WARN, ERROR")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))}
	case cfg.ID == "" || cfg.DataDir == "" || cfg.RaftAddr == "" || cfg.HTTPAddr == "":
		return usageError{errors.New("serve: --id, --data-dir, --raft-addr and --http-addr are required")}
	case cfg.Bootstrap && cfg.Join != "":
		return usageError{errors.New("serve: --bootstrap and --join exclude each other")}
	}
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = timeout, timeout
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	// Listen before raft starts, so that a busy port fails at once.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	node, err := cluster.Open(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: node.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cfg.Logger.Info("dualdbd: serving", "id", cfg.ID, "http", cfg.HTTPAddr, "raft", cfg.RaftAddr, "data", cfg.DataDir)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		cfg.Logger.Info("dualdbd: stopping", "signal", s.String())
	case err := <-served:
		cfg.Logger.Error("dualdbd: HTTP server stopped", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx) // requests still running after 5 s are cut
	return node.Close()
}
