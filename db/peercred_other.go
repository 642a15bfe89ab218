//go:build !linux

package db

import "net"

// peerAllowed accepts every peer: on this system the socket's mode (0600)
// alone keeps other uids out.
func peerAllowed(net.Conn) error { return nil }
