package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/vfs"
	"github.com/spf13/cobra"
)

func newBackupCmd() *cobra.Command {
	var (
		out   string
		force bool
	)
	c := &cobra.Command{
		Use:   "backup (DIR | URL) -o FILE",
		Short: "Write a verified snapshot file of one version of a store",
		Long: `backup writes a snapshot file of the store's last version to FILE: the format
of the store's own snap/*.dsnap files, which verify --snapshot checks and
restore makes a new store of.

A store that a process holds is backed up by that process, through its
operator socket (or the URL of its mounted handler), without stopping its
writers; a stopped store is opened read-only.

FILE is written as FILE.tmp, synced, checked in full (as verify --snapshot
does) and only then renamed to FILE, so FILE is either absent or a complete,
verified backup. An existing FILE is kept unless --force is given; a FILE.tmp
left by a backup that was cut short must be removed by hand. With -o -, the
file goes to standard output (nothing else is printed there, and nothing is
checked).`,
		Example: `  dualdb backup ./dualdb-demo -o demo.dsnap
  dualdb backup ./dualdb-demo -o - | ssh host 'cat > demo.dsnap'
  dualdb backup http://127.0.0.1:8080/debug/dualdb -o app.dsnap`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("backup needs -o FILE (or -o - for standard output)")
			}
			return runBackup(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], out, force)
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write the backup to `FILE` (- for standard output)")
	c.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return c
}

func runBackup(stdout, stderr io.Writer, target, out string, force bool) (err error) {
	if out == "-" && isTerminal(stdout) {
		return fmt.Errorf("backup -o -: standard output is a terminal; redirect it to a file or a pipe")
	}
	ls, err := findLive(target, stderr)
	if err != nil {
		return err
	}
	var write func(io.Writer) (uint64, error)
	if ls != nil {
		write = func(w io.Writer) (uint64, error) { return ls.backup(stderr, w) }
	} else {
		d, err := openStore(target, true, false, stderr)
		if err != nil {
			return err
		}
		defer closeStore(d, &err)
		write = func(w io.Writer) (uint64, error) {
			v, err := d.Backup(w)
			if err != nil {
				return v, wrapErr(err, "backup of %s", target)
			}
			return v, nil
		}
	}
	if out == "-" {
		_, err := write(stdout)
		return err
	}
	rep, fi, err := writeBackupFile(out, force, write)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup: wrote %s: version %d, %s, %s (%s bytes), verified\n",
		out, rep.Version, plural(rep.Records, "record", "records"), size(fi.Size()), count(fi.Size()))
	return nil
}

// writeBackupFile writes the backup that write produces to path.tmp,
// syncs it, verifies it and moves it to path, which it replaces only if
// force is set. On error, path.tmp is removed (it is this run's: it was
// created exclusively) and path is untouched.
func writeBackupFile(path string, force bool, write func(io.Writer) (uint64, error)) (rep *db.VerifyReport, fi os.FileInfo, err error) {
	if _, err := os.Lstat(path); err == nil && !force {
		return nil, nil, fmt.Errorf("%s exists: refusing to overwrite it (give --force to replace it)", path)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, nil, fmt.Errorf("%s exists: another backup to %s is running, or one was cut short (remove it if none is running)", tmp, path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create the backup file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // already failing, or closed already
			if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("remove %s: %w", tmp, rerr))
			}
		}
	}()
	v, err := write(f)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, nil, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("close %s: %w", tmp, err)
	}
	rep, err = db.VerifySnapshot(tmp, nil)
	if err != nil {
		return nil, nil, wrapErr(err, "check the backup %s", tmp)
	}
	if !rep.OK() {
		return nil, nil, fmt.Errorf("the backup written to %s fails its check, so it was not kept: %s (and %d more findings)", tmp, rep.Findings[0], len(rep.Findings)-1)
	}
	if rep.Version != v {
		return nil, nil, fmt.Errorf("the backup written to %s holds version %d, but the store said %d; it was not kept", tmp, rep.Version, v)
	}
	if force {
		err = os.Rename(tmp, path)
	} else {
		// A hard link never replaces a file that appeared meanwhile.
		if err = os.Link(tmp, path); err == nil {
			err = os.Remove(tmp)
		} else if errors.Is(err, fs.ErrExist) {
			return nil, nil, fmt.Errorf("%s appeared while the backup was written: refusing to overwrite it (give --force to replace it)", path)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("move the backup to %s: %w", path, err)
	}
	if err := vfs.OS.SyncDir(filepath.Dir(path)); err != nil {
		return nil, nil, fmt.Errorf("sync the directory of %s: %w", path, err)
	}
	fi, err = os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("backup written, but: %w", err)
	}
	return rep, fi, nil
}
