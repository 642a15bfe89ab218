// Package xfsrig is a power-loss rig for tests: an XFS file system in a
// loop device that can be shut down without flushing its log, which drops
// every write that was not fsynced, as a power cut does. It needs root and
// xfsprogs; Unavailable says why it cannot run.
//
// Only tests import it: it is kept out of the dualdb binary.
package xfsrig

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Rig is a power-loss rig: an XFS file system in a loop device, mounted on
// a directory. Shutdown cuts it the way a power failure does (the log is
// not flushed: every write that was not fsynced is dropped), Remount
// brings it back as a restarted machine would see it.
type Rig struct {
	Image   string // the backing file
	Mount   string // the mount point
	mounted bool
}

// Unavailable returns why the rig cannot run here, or nil: it needs
// root, the xfsprogs tools (mkfs.xfs, xfs_io), mount/umount/losetup and
// XFS support in the kernel.
func Unavailable() error {
	if os.Geteuid() != 0 {
		return errors.New("the power-loss rig needs root (mount -o loop, xfs_io -x shutdown)")
	}
	for _, tool := range []string{"mkfs.xfs", "xfs_io", "mount", "umount", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the power-loss rig needs %s (apt-get install xfsprogs): %w", tool, err)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("the power-loss rig needs loop devices: %w", err)
	}
	return nil
}

// New creates a sparse image of size bytes in dir, makes an XFS file
// system on it and mounts it on dir/mnt. Close undoes all of it.
func New(dir string, size int64) (*Rig, error) {
	if err := Unavailable(); err != nil {
		return nil, err
	}
	x := &Rig{Image: filepath.Join(dir, "xfs.img"), Mount: filepath.Join(dir, "mnt")}
	f, err := os.OpenFile(x.Image, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := run("mkfs.xfs", "-q", "-f", x.Image); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(x.Mount, 0o700); err != nil {
		return nil, err
	}
	if err := x.mount(); err != nil {
		return nil, err
	}
	return x, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (x *Rig) mount() error {
	if err := run("mount", "-t", "xfs", "-o", "loop", x.Image, x.Mount); err != nil {
		return err
	}
	x.mounted = true
	return nil
}

// umount unmounts, retrying while the mount point is busy (a killed child
// may still be exiting).
func (x *Rig) umount() error {
	if !x.mounted {
		return nil
	}
	var err error
	for range 50 {
		if err = run("umount", x.Mount); err == nil {
			x.mounted = false
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Shutdown cuts the file system as a power failure would: it is shut
// down without flushing its log, so whatever was not fsynced is gone, and
// every later access fails with EIO.
func (x *Rig) Shutdown() error {
	return run("xfs_io", "-x", "-c", "shutdown", x.Mount)
}

// Remount unmounts the (shut down) file system and mounts it again, which
// replays its log as the first mount after a power failure does.
func (x *Rig) Remount() error {
	if err := x.umount(); err != nil {
		return err
	}
	return x.mount()
}

// Free returns the free bytes of the file system.
func (x *Rig) Free() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(x.Mount, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Fill allocates a file that leaves about leave bytes free, and returns
// its path.
func (x *Rig) Fill(leave int64) (string, error) {
	free, err := x.Free()
	if err != nil {
		return "", err
	}
	path := filepath.Join(x.Mount, "filler")
	n := free - leave
	if n <= 0 {
		return path, nil
	}
	if err := run("xfs_io", "-f", "-c", fmt.Sprintf("falloc 0 %d", n), path); err != nil {
		return "", err
	}
	return path, nil
}

// Close unmounts the file system, detaches any loop device still bound
// to the image and removes it.
func (x *Rig) Close() error {
	err := x.umount()
	if err != nil {
		// Something still holds a file (a store that panicked in Open
		// leaks its descriptors): detach it lazily so the image goes.
		if lerr := run("umount", "-l", x.Mount); lerr == nil {
			x.mounted = false
		}
	}
	if out, lerr := exec.Command("losetup", "-j", x.Image).Output(); lerr == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if dev, _, ok := strings.Cut(line, ":"); ok && dev != "" {
				_ = run("losetup", "-d", dev)
			}
		}
	}
	if rerr := os.Remove(x.Image); err == nil && rerr != nil && !os.IsNotExist(rerr) {
		err = rerr
	}
	return err
}
