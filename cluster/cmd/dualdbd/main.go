// Command dualdbd runs a node of a replicated dualdb cluster.
//
//	dualdbd serve --id ID --data-dir DIR --raft-addr HOST:PORT --http-addr HOST:PORT [--bootstrap | --join HTTP_ADDR]
//	dualdbd bench --addrs HOST:PORT,... [--clients N] [--duration D] [--op put|get|stale]
//
// Exit codes: 0 ok, 1 a failure while running, 2 bad usage.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = runServe(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "dualdbd: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dualdbd: %v\n", err)
		if _, ok := err.(usageError); ok {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  dualdbd serve --id ID --data-dir DIR --raft-addr HOST:PORT --http-addr HOST:PORT [--bootstrap | --join HTTP_ADDR]
  dualdbd bench --addrs HOST:PORT[,HOST:PORT...] [--clients N] [--duration D] [--op put|get|stale]
Run "dualdbd serve -h" or "dualdbd bench -h" for the flags.
`)
}
