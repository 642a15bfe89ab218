package main

import (
	"encoding/base64"
	"testing"
)

func TestScan(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	runCases(t, "scan", []cliCase{
		{name: "all", store: usersStore, args: []string{"scan", "$DIR"}},
		{name: "limit", store: usersStore, args: []string{"scan", "$DIR", "--limit", "3"}},
		{name: "by-index", store: usersStore, args: []string{"scan", "$DIR", "--by", "index", "--limit", "4"}},
		{name: "reverse", store: usersStore, args: []string{"scan", "$DIR", "--reverse", "--limit", "3"}},
		{name: "range", store: usersStore, args: []string{"scan", "$DIR", "--from", "user:0000000004", "--to", "user:0000000007"}},
		{name: "range-reverse", store: usersStore, args: []string{"scan", "$DIR", "--reverse", "--from", "user:0000000007", "--to", "user:0000000004"}},
		{name: "index-range", store: usersStore, args: []string{"scan", "$DIR", "--by", "index", "--from", "b", "--to", "d"}},
		{name: "index-reverse", store: usersStore, args: []string{"scan", "$DIR", "--by", "index", "--reverse", "--limit", "2"}},
		{name: "base64-bounds", store: usersStore, args: []string{"scan", "$DIR", "--base64", "--from", b64("bin:"), "--to", b64("bin;")}},
		{name: "json", store: usersStore, args: []string{"scan", "$DIR", "--json", "--limit", "2"}},
		{name: "json-binary", store: usersStore, args: []string{"scan", "$DIR", "--json", "--from", "bin:", "--to", "user:"}},
		{name: "empty-range", store: usersStore, args: []string{"scan", "$DIR", "--from", "zzz"}},
		{name: "empty-store", store: emptyStore, args: []string{"scan", "$DIR"}},
		{name: "bad-by", store: usersStore, args: []string{"scan", "$DIR", "--by", "value"}, code: exitError},
		{name: "bad-limit", store: usersStore, args: []string{"scan", "$DIR", "--limit", "-1"}, code: exitError},
		{name: "missing-store", args: []string{"scan", "$DIR"}, code: exitError},
	})
}
