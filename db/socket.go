package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// maxSocketPath is the longest path a Unix socket can be bound to on Linux
// (sun_path holds 108 bytes with the terminating NUL); other systems allow
// less, and net.Listen reports it.
const maxSocketPath = 107

// adminShutdownWait is how long Close waits for operator requests in
// flight before it cuts their connections.
const adminShutdownWait = 2 * time.Second

// adminServer is the HTTP server on the operator socket.
type adminServer struct {
	srv    *http.Server
	ln     net.Listener
	path   string
	cancel context.CancelFunc // ends the context of every request
	done   chan struct{}      // closed when Serve returned
}

// SocketPath returns the path of the operator socket of the store in dir.
// Only the process that holds the store for writing listens there.
func SocketPath(dir string) string { return filepath.Join(dir, SocketFile) }

// startAdmin serves Handler on the operator socket, unless
// Options.NoAdminSocket. It runs with the writer's lock held, so a socket
// file already there was left by a process that died: it is removed and
// made anew. A failure to listen is logged and leaves the store without a
// socket; it never fails Open.
func (d *DB) startAdmin() {
	if d.opts.NoAdminSocket {
		return
	}
	// An absolute path keeps working if the application changes its
	// working directory; a relative one may fit where the absolute does not.
	path := SocketPath(d.dir)
	if abs := SocketPath(d.live.absDir); len(abs) <= maxSocketPath {
		path = abs
	}
	if len(path) > maxSocketPath {
		d.logger.Warn("dualdb: no operator socket: its path is too long for a Unix socket", "path", path, "bytes", len(path), "max", maxSocketPath)
		return
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			// Not a socket: not ours to remove.
			d.logger.Warn("dualdb: no operator socket: a file that is not a socket has its name", "path", path, "mode", fi.Mode().String())
			return
		}
		if err := os.Remove(path); err != nil {
			d.logger.Warn("dualdb: no operator socket: cannot remove the stale one", "path", path, "err", err)
			return
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		d.logger.Warn("dualdb: no operator socket: cannot listen", "path", path, "err", err)
		return
	}
	// The directory is 0700 when Open created it; the socket is 0600 in any
	// case, so only this uid (and root) can connect.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close() // removes the socket file
		d.logger.Warn("dualdb: no operator socket: cannot restrict its mode", "path", path, "err", err)
		return
	}
	ln = &peerListener{Listener: ln, d: d}
	ctx, cancel := context.WithCancel(context.Background())
	a := &adminServer{
		ln: ln, path: path, cancel: cancel, done: make(chan struct{}),
		srv: &http.Server{
			Handler:           d.Handler(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second, // requests have no body
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    1 << 20,
			BaseContext:       func(net.Listener) context.Context { return ctx },
			ErrorLog:          slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
		},
	}
	d.live.srv = a
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Warn("dualdb: operator socket stopped", "path", path, "err", err)
		}
	}()
}

// stopAdmin stops the socket's server: it ends the requests' contexts
// (a backup or export stops at its next check), waits briefly for them,
// cuts what remains, and removes the socket file.
func (d *DB) stopAdmin() {
	a := d.live.srv
	if a == nil {
		return
	}
	a.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownWait)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close() // cuts what Shutdown did not wait out
	}
	<-a.done
	// Closing the listener removed the socket file; make sure, but only if
	// it is still a socket (ours).
	if fi, err := os.Lstat(a.path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		if err := os.Remove(a.path); err != nil {
			d.logger.Warn("dualdb: cannot remove the operator socket", "path", a.path, "err", fmt.Sprint(err))
		}
	}
}

// peerListener drops connections from peers that peerAllowed refuses.
type peerListener struct {
	net.Listener
	d *DB
}

// Accept implements net.Listener.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := peerAllowed(c); err != nil {
			l.d.logger.Warn("dualdb: operator socket: connection refused", "err", err)
			_ = c.Close() // refused: nothing was read or written
			continue
		}
		return c, nil
	}
}
