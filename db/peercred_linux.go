//go:build linux

package db

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// peerAllowed reports whether the process at the other end of c may use
// the operator socket: the same uid as this process, or root. The socket's
// mode (0600) already keeps other uids out; this holds even if someone
// loosens that mode.
func peerAllowed(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if uid := os.Geteuid(); int(cred.Uid) != uid && cred.Uid != 0 {
		return fmt.Errorf("peer uid %d (pid %d) is neither this process's uid %d nor root", cred.Uid, cred.Pid, uid)
	}
	return nil
}
