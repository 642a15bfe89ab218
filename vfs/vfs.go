// Package vfs is the small file-system interface through which dualdb
// writes and reads snapshot files and manages its directory. The default,
// OS, is the real file system; tests wrap it to inject faults (a failing
// write, a short write, a failing fsync or rename, ENOSPC) at a chosen
// operation.
//
// The WAL file (wal.db) is managed by bbolt and does not go through this
// interface.
package vfs

import (
	"io"
	"io/fs"
	"os"
)

// File is an open file. Implementations must be safe for use by one
// goroutine at a time.
type File interface {
	io.Reader
	io.Writer
	io.Closer
	// Sync flushes the file's data and metadata to stable storage.
	Sync() error
	// Stat returns the file's information.
	Stat() (fs.FileInfo, error)
}

// FS is a file system. All methods must be safe for concurrent use.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename renames a file like os.Rename (atomic on POSIX file systems).
	Rename(oldpath, newpath string) error
	// Remove removes a file like os.Remove.
	Remove(name string) error
	// MkdirAll creates a directory like os.MkdirAll.
	MkdirAll(path string, perm fs.FileMode) error
	// ReadDir lists a directory like os.ReadDir.
	ReadDir(dir string) ([]fs.DirEntry, error)
	// Stat returns file information like os.Stat.
	Stat(name string) (fs.FileInfo, error)
	// SyncDir fsyncs a directory, making renames and creations in it durable.
	SyncDir(dir string) error
}

// OS is the real file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error)    { return os.ReadDir(dir) }
func (osFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}
