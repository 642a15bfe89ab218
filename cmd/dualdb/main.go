// Command dualdb inspects, verifies and exercises dualdb stores.
//
// Exit codes: 0 ok, 1 findings (a check found a defect), 2 usage or I/O
// error.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
