package main

import (
	"encoding/base64"
	"testing"
)

func TestGet(t *testing.T) {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	runCases(t, "get", []cliCase{
		{name: "key", store: usersStore, args: []string{"get", "$DIR", "user:0000000003"}},
		{name: "swapped", store: usersStore, args: []string{"get", "$DIR", "user:0000000001"}},
		{name: "index", store: usersStore, args: []string{"get", "$DIR", "--index", "robert.wilson3@example.org"}},
		{name: "json", store: usersStore, args: []string{"get", "$DIR", "user:0000000003", "--json"}},
		{name: "binary", store: usersStore, args: []string{"get", "$DIR", "--base64", b64(binKey)}},
		{name: "binary-json", store: usersStore, args: []string{"get", "$DIR", "--json", "--base64", "--index", b64(binIndex)}},
		{name: "deleted", store: usersStore, args: []string{"get", "$DIR", "user:0000000005"}, code: exitFindings},
		{name: "not-found-index", store: usersStore, args: []string{"get", "$DIR", "--index", "nobody@example.com"}, code: exitFindings},
		{name: "key-and-index", store: usersStore, args: []string{"get", "$DIR", "user:0000000003", "--index", "x"}, code: exitError},
		{name: "no-key", store: usersStore, args: []string{"get", "$DIR"}, code: exitError},
		{name: "bad-base64", store: usersStore, args: []string{"get", "$DIR", "--base64", "!!"}, code: exitError},
		{name: "missing-store", args: []string{"get", "$DIR", "k"}, code: exitError},
		{name: "empty-store", store: emptyStore, args: []string{"get", "$DIR", "k"}, code: exitFindings},
	})
}
