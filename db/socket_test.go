package db_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func bufferLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// socketStatus asks the socket at path for /v1/status.
func socketStatus(t testing.TB, path string) db.Status {
	t.Helper()
	a := socketClient(path).get("/v1/status")
	a.want(t, "status over the socket", http.StatusOK, "")
	var st db.Status
	if err := json.Unmarshal(a.body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSocket_ServesWhileOpen(t *testing.T) {
	d := openTest(t, nil)
	fillUsers(t, d, 5)
	path := db.SocketPath(d.Dir())
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("no operator socket while the store is open: %v", err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("operator socket has mode %v, want a socket with 0600", fi.Mode())
	}
	st := socketStatus(t, path)
	if st.PID != os.Getpid() || st.Version != d.Version() {
		t.Fatalf("status over the socket = %+v, want this process at version %d", st, d.Version())
	}
	a := socketClient(path).get("/v1/export")
	if !bytes.Equal(a.body, exportLines(d.Snapshot())) {
		t.Fatal("export over the socket differs from the export lines")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("operator socket still there after Close: %v", err)
	}
}

// A socket file left by a killed process neither blocks nor breaks the
// next Open: the new holder replaces it.
func TestSocket_StaleFromDeadProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// What a killed process leaves: a socket file nobody listens on.
	ln, err := net.Listen("unix", db.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", db.SocketPath(dir)); err == nil {
		t.Fatal("the stale socket accepts connections: the test leaves no stale socket")
	}
	d, err = db.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open beside a stale socket: %v", err)
	}
	defer d.Close()
	if st := socketStatus(t, db.SocketPath(dir)); st.PID != os.Getpid() {
		t.Fatalf("status = %+v", st)
	}
}

// A file that is not a socket under the socket's name is not dualdb's: it
// is left alone, Open works, and a warning says why there is no socket.
func TestSocket_NameTakenByAFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := db.SocketPath(dir)
	if err := os.WriteFile(path, []byte("not mine to delete"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	d, err := db.Open(dir, &db.Options{Logger: bufferLogger(&log)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "not mine to delete" {
		t.Fatalf("the file under the socket's name was changed: %q, %v", b, err)
	}
	if !strings.Contains(log.String(), "a file that is not a socket has its name") {
		t.Fatalf("no warning about the file; log: %s", log.String())
	}
}

// A store path too long for a Unix socket opens without a socket and says
// so in the log.
func TestSocket_PathTooLong(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
	var log syncBuffer
	d, err := db.Open(dir, &db.Options{Logger: bufferLogger(&log)})
	if err != nil {
		t.Fatalf("Open of a store whose socket path is too long: %v", err)
	}
	mustPut(t, d, "a", "ia", "A")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "too long for a Unix socket") {
		t.Fatalf("no warning about the path; log: %s", log.String())
	}
}

// A socket that cannot be made (here: its name is taken by a directory)
// logs a warning and never fails Open.
func TestSocket_NameTakenByADirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(filepath.Join(dir, db.SocketFile, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	d, err := db.Open(dir, &db.Options{Logger: bufferLogger(&log)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "no operator socket") {
		t.Fatalf("no warning; log: %s", log.String())
	}
}

// A store opened by a relative path keeps its socket, and removes it at
// Close, even when the working directory changes in between.
func TestSocket_RelativeDir(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	d, err := db.Open("store", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	path := db.SocketPath(filepath.Join(base, "store"))
	if st := socketStatus(t, path); st.Dir != filepath.Join(base, "store") {
		t.Fatalf("status dir = %q, want %q", st.Dir, filepath.Join(base, "store"))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket still there after Close: %v", err)
	}
}

func TestSocket_Off(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	if _, err := os.Lstat(db.SocketPath(d.Dir())); !os.IsNotExist(err) {
		t.Fatalf("NoAdminSocket, yet %s exists: %v", db.SocketPath(d.Dir()), err)
	}
}

// connectEnv names the socket TestHelperProcess_Connect dials.
const connectEnv = "DUALDB_TEST_CONNECT_SOCKET"

// TestHelperProcess_Connect is not a test: TestSocket_OtherUID runs the
// test binary as another user with it, to dial the socket and say what
// happened.
func TestHelperProcess_Connect(t *testing.T) {
	path := os.Getenv(connectEnv)
	if path == "" {
		t.Skip("helper process of TestSocket_OtherUID")
	}
	a := socketClient(path).get("/v1/status")
	if a.err != nil {
		fmt.Printf("RESULT refused: %v\n", a.err)
	} else {
		fmt.Printf("RESULT connected: status %d\n", a.code)
	}
}

// Another uid cannot connect to the socket, even when the store directory
// lets it through: the socket itself is 0600.
func TestSocket_OtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a helper as user nobody through setpriv")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux) to run a helper as user nobody")
	}
	// A copy of the test binary that nobody can run, in a directory
	// nobody can reach; the store below it.
	base, err := os.MkdirTemp("", "dualdb-uid")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "db.test")
	copyFile(t, self, bin, 0o755)
	dir := filepath.Join(base, "store")
	d, err := db.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sock := db.SocketPath(dir)

	asNobody := func() string {
		cmd := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			bin, "-test.run=^TestHelperProcess_Connect$", "-test.v")
		cmd.Env = append(os.Environ(), connectEnv+"="+sock)
		cmd.Dir = base
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "RESULT ") {
				return line
			}
		}
		t.Fatalf("helper as nobody said nothing (err %v):\n%s", err, out)
		return ""
	}
	// The store directory as Open made it (0700), then opened up (0755):
	// the socket's own mode keeps nobody out.
	for _, mode := range []fs.FileMode{0o700, 0o755} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		got := asNobody()
		if !strings.Contains(got, "refused") || !strings.Contains(got, "permission denied") {
			t.Fatalf("store dir %v: nobody's connection: %s; want permission denied", mode, got)
		}
		t.Logf("store dir %v: %s", mode, got)
	}
	// A socket whose mode someone loosened still serves nobody: the
	// server checks the peer's uid and drops the connection.
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	got := asNobody()
	if !strings.Contains(got, "refused") || strings.Contains(got, "permission denied") {
		t.Fatalf("socket at 0666: nobody's request: %s; want it dropped by the server, past the file mode", got)
	}
	t.Logf("socket 0666: %s", got)
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t testing.TB, from, to string, mode fs.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
