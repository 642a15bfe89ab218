//go:build !linux

package main

import (
	"io/fs"
	"os"
	"path/filepath"
)

func fsType(string) string { return "unknown" }

func diskUsage(dir string) (allocated, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		apparent += info.Size()
		return nil
	})
	return apparent, apparent, err
}

func fdatasync(f *os.File) error { return f.Sync() }

func rssBytes() int64 { return 0 }
