// Package faultfs is a fault-injecting vfs.FS for tests: it fails the Nth
// operation of one kind (write, fsync, rename, ...) with EIO or ENOSPC, once
// or from then on, and records a trace of what ran.
//
// Only tests import it: it is kept out of the dualdb binary.
package faultfs

import (
	"fmt"
	"io/fs"
	"sync"
	"syscall"

	"github.com/dualdb/dualdb/vfs"
)

// Op is a kind of file-system operation an FS can fail.
type Op int

const (
	OpWrite      Op = iota // File.Write fails with EIO, writing nothing
	OpShortWrite           // File.Write writes half its bytes, then fails with EIO
	OpENOSPC               // File.Write fails with ENOSPC, writing nothing
	OpSync                 // File.Sync fails with EIO
	OpRename               // FS.Rename fails with EIO, renaming nothing
	OpSyncDir              // FS.SyncDir fails with EIO
	OpRead                 // File.Read fails with EIO
	OpOpen                 // FS.OpenFile fails with EIO
	OpRemove               // FS.Remove fails with EIO, removing nothing
	OpReadDir              // FS.ReadDir fails with EIO
	OpMkdir                // FS.MkdirAll fails with EIO
	OpStat                 // FS.Stat and File.Stat fail with EIO
	numOps
)

var opNames = [...]string{"write", "short-write", "enospc", "fsync", "rename", "dir-fsync", "read", "open", "remove", "readdir", "mkdir", "stat"}

func (o Op) String() string { return opNames[o] }

// class returns the counter an Op is counted by: the three write faults
// count writes.
func (o Op) class() Op {
	if o == OpShortWrite || o == OpENOSPC {
		return OpWrite
	}
	return o
}

// FS wraps a vfs.FS and fails the Nth operation of one kind (counted
// from Arm), once or for every later operation of that kind too. It is
// safe for concurrent use.
type FS struct {
	Base vfs.FS

	mu      sync.Mutex
	armed   bool
	op      Op
	at      int  // fail the at-th operation of op's class (1-based)
	forever bool // and every later one
	counts  [numOps]int
	fired   int
	trace   []string
}

// New returns an FS over base (nil: vfs.OS), disarmed.
func New(base vfs.FS) *FS {
	if base == nil {
		base = vfs.OS
	}
	return &FS{Base: base}
}

// Arm resets the counters and fails the n-th operation of kind op (and,
// if forever, every later one) from now on.
func (f *FS) Arm(op Op, n int, forever bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.op, f.at, f.forever = true, op, n, forever
	f.counts = [numOps]int{}
	f.fired = 0
	f.trace = nil
}

// Disarm stops injecting faults; counters and trace stay readable.
func (f *FS) Disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
}

// Fired returns how many faults were injected since Arm.
func (f *FS) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// Count returns how many operations of op's class ran since Arm.
func (f *FS) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op.class()]
}

// Trace returns the operations seen since Arm, in order.
func (f *FS) Trace() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.trace...)
}

// hit counts one operation of class c on name and reports whether it
// must fail.
func (f *FS) hit(c Op, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[c]++
	n := f.counts[c]
	fail := f.armed && f.op.class() == c && (n == f.at || (f.forever && n > f.at))
	mark := ""
	if fail {
		f.fired++
		mark = " FAULT"
	}
	f.trace = append(f.trace, fmt.Sprintf("%s#%d %s%s", c, n, name, mark))
	return fail
}

func (f *FS) writeFault() Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.op
}

func eio(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
}

// OpenFile implements vfs.FS.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	if f.hit(OpOpen, name) {
		return nil, eio("open", name)
	}
	file, err := f.Base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// Rename implements vfs.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	if f.hit(OpRename, oldpath) {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: syscall.EIO}
	}
	return f.Base.Rename(oldpath, newpath)
}

// Remove implements vfs.FS.
func (f *FS) Remove(name string) error {
	if f.hit(OpRemove, name) {
		return eio("remove", name)
	}
	return f.Base.Remove(name)
}

// MkdirAll implements vfs.FS.
func (f *FS) MkdirAll(path string, perm fs.FileMode) error {
	if f.hit(OpMkdir, path) {
		return eio("mkdir", path)
	}
	return f.Base.MkdirAll(path, perm)
}

// ReadDir implements vfs.FS.
func (f *FS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if f.hit(OpReadDir, dir) {
		return nil, eio("readdir", dir)
	}
	return f.Base.ReadDir(dir)
}

// Stat implements vfs.FS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if f.hit(OpStat, name) {
		return nil, eio("stat", name)
	}
	return f.Base.Stat(name)
}

// SyncDir implements vfs.FS.
func (f *FS) SyncDir(dir string) error {
	if f.hit(OpSyncDir, dir) {
		return eio("fsync", dir)
	}
	return f.Base.SyncDir(dir)
}

type faultFile struct {
	vfs.File
	fs   *FS
	name string
}

func (w *faultFile) Write(p []byte) (int, error) {
	if !w.fs.hit(OpWrite, w.name) {
		return w.File.Write(p)
	}
	switch w.fs.writeFault() {
	case OpShortWrite:
		n, err := w.File.Write(p[:len(p)/2])
		if err != nil {
			return n, err
		}
		return n, &fs.PathError{Op: "write", Path: w.name, Err: syscall.EIO}
	case OpENOSPC:
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: syscall.ENOSPC}
	default:
		return 0, eio("write", w.name)
	}
}

func (w *faultFile) Read(p []byte) (int, error) {
	if w.fs.hit(OpRead, w.name) {
		return 0, eio("read", w.name)
	}
	return w.File.Read(p)
}

func (w *faultFile) Sync() error {
	if w.fs.hit(OpSync, w.name) {
		return eio("fsync", w.name)
	}
	return w.File.Sync()
}

func (w *faultFile) Stat() (fs.FileInfo, error) {
	if w.fs.hit(OpStat, w.name) {
		return nil, eio("stat", w.name)
	}
	return w.File.Stat()
}
