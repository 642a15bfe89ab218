package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeUpdateBlock returns the Go code block of the module's README.md
// that shows a transaction (d.Update).
func readmeUpdateBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], "d.Update(") {
			return m[1]
		}
	}
	t.Fatal("README.md has no Go code block with d.Update")
	return ""
}

// The README's transaction example changes index keys without erasing
// values: Put replaces the whole record, so each Put in the transaction
// writes the Value of a record the transaction read with tx.Get, under
// that record's Key.
func TestREADME_UpdateKeepsValues(t *testing.T) {
	code := readmeUpdateBlock(t)
	// The block elides error handling as `{ ... }`; make it parse.
	code = strings.ReplaceAll(code, "{ ... }", "{ panic(err) }")
	// On one line with the block's first, so that positions are the
	// block's own lines.
	src := "package p; func _() {" + code + "\n}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "README.md Go block with d.Update, line", src, 0)
	if err != nil {
		t.Fatalf("the README's example does not parse: %v\n%s", err, code)
	}
	puts := 0
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if recv, _ := sel.X.(*ast.Ident); recv != nil && recv.Name == "d" && sel.Sel.Name == "Update" && len(call.Args) == 1 {
			if fn, ok := call.Args[0].(*ast.FuncLit); ok {
				puts += checkTxPuts(t, fset, fn)
			}
		}
		if sel.Sel.Name == "Put" && len(call.Args) == 3 {
			if id, ok := call.Args[2].(*ast.Ident); ok && id.Name == "nil" {
				t.Errorf("%s: Put with a nil value erases the record's value", fset.Position(call.Pos()))
			}
		}
		return true
	})
	if puts == 0 {
		t.Error("the README's d.Update example has no tx.Put")
	}
}

// checkTxPuts checks every tx.Put in the transaction fn: its key is K.Key
// and its value K.Value of a record K that fn read with tx.Get. It
// returns the number of tx.Put calls.
func checkTxPuts(t *testing.T, fset *token.FileSet, fn *ast.FuncLit) int {
	t.Helper()
	read := map[string]bool{} // variables assigned from tx.Get
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 || len(as.Lhs) == 0 {
			return true
		}
		if call, ok := as.Rhs[0].(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Get" {
				if id, ok := as.Lhs[0].(*ast.Ident); ok {
					read[id.Name] = true
				}
			}
		}
		return true
	})
	field := func(e ast.Expr, name string) (string, bool) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != name {
			return "", false
		}
		id, ok := sel.X.(*ast.Ident)
		return id.Name, ok && read[id.Name]
	}
	puts := 0
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Put" || len(call.Args) != 3 {
			return true
		}
		puts++
		key, keyOK := field(call.Args[0], "Key")
		value, valueOK := field(call.Args[2], "Value")
		if !keyOK || !valueOK || key != value {
			t.Errorf("%s: the transaction's Put must write R.Key and R.Value of a record R it read with tx.Get",
				fset.Position(call.Pos()))
		}
		return true
	})
	return puts
}
