package store_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// No query in internal/store is built with fmt. The rule, checked on the
// package's non-test source:
//
//  1. No call of fmt.Sprintf, Sprint, Sprintln, Appendf, Fprintf or Errorf
//     has a string literal argument holding an SQL keyword (SELECT, INSERT,
//     UPDATE, DELETE, FROM, WHERE, VALUES, RETURNING, JOIN, ORDER BY, LIMIT,
//     GROUP BY, SET): SQL text is never a format string.
//  2. No value made by fmt.Sprint*, fmt.Appendf or fmt.Fprintf (into a
//     builder) reaches the SQL argument of Query, QueryRow, Exec or CopyFrom,
//     directly or through variables, +=, append, slices, or the return value
//     of a function of the package: the SQL argument is built only from
//     constants and "$n" placeholders.
//
// fmt stays allowed for error messages (wrap(fmt.Sprintf("cancel job %d", id), err)),
// which never reach the database.
func TestNoQueryBuiltWithSprintf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var srcs []source
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, source{name, string(b)})
	}
	if len(srcs) < 5 {
		t.Fatalf("found only %d source files in internal/store", len(srcs))
	}
	for _, f := range sqlSprintfFindings(t, srcs) {
		t.Errorf("query built with fmt: %s", f)
	}
}

// The checker itself must catch the forms it claims to catch.
func TestNoQueryBuiltWithSprintfCatchesBadCode(t *testing.T) {
	bad, err := os.ReadFile(filepath.Join("testdata", "sqlsprintf", "bad.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	findings := sqlSprintfFindings(t, []source{{"bad.go", string(bad)}})
	// Every function in bad.go named badN must be reported, at least once each.
	want := regexp.MustCompile(`func (bad\d+)\(`).FindAllStringSubmatch(string(bad), -1)
	if len(want) < 6 {
		t.Fatalf("testdata has only %d bad functions", len(want))
	}
	for _, w := range want {
		found := false
		for _, f := range findings {
			if strings.Contains(f, "in "+w[1]+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("the checker missed %s; findings:\n%s", w[1], strings.Join(findings, "\n"))
		}
	}
	good, err := os.ReadFile(filepath.Join("testdata", "sqlsprintf", "good.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fs := sqlSprintfFindings(t, []source{{"good.go", string(good)}}); len(fs) != 0 {
		t.Errorf("the checker flags allowed code:\n%s", strings.Join(fs, "\n"))
	}
}

type source struct{ name, text string }

var sqlKeyword = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|VALUES|RETURNING|JOIN|ORDER BY|GROUP BY|LIMIT|SET)\b`)

var fmtMakers = map[string]bool{"Sprintf": true, "Sprint": true, "Sprintln": true, "Appendf": true, "Fprintf": true, "Errorf": true}

var sinks = map[string]bool{"Query": true, "QueryRow": true, "Exec": true, "CopyFrom": true}

func isFmtCall(e ast.Expr) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || pkg.Name != "fmt" || !fmtMakers[sel.Sel.Name] {
		return "", false
	}
	return sel.Sel.Name, true
}

func sqlSprintfFindings(t *testing.T, srcs []source) []string {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, s := range srcs {
		f, err := parser.ParseFile(fset, s.name, s.text, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", s.name, err)
		}
		files = append(files, f)
	}
	var findings []string
	report := func(fn string, pos token.Pos, format string, args ...any) {
		findings = append(findings, fmt.Sprintf("%s in %s: %s", fset.Position(pos), fn, fmt.Sprintf(format, args...)))
	}

	// Rule 1: SQL keywords in fmt format strings.
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if name, ok := isFmtCall(call); ok {
					for _, a := range call.Args {
						if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							if m := sqlKeyword.FindString(s); m != "" {
								report(fd.Name.Name, lit.Pos(), "fmt.%s with SQL keyword %s in %s", name, m, lit.Value)
							}
						}
					}
				}
				return true
			})
		}
	}

	// Rule 2: taint from fmt to query arguments. Functions whose results
	// are tainted taint their callers' values; iterate to a fixpoint.
	taintedFuncs := map[string]bool{}
	for {
		changed := false
		for _, f := range files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				if !taintedFuncs[fd.Name.Name] && returnsTaint(fd, taintedFuncs) {
					taintedFuncs[fd.Name.Name] = true
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			vars := taintedVars(fd, taintedFuncs)
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !sinks[sel.Sel.Name] || len(call.Args) < 2 {
					return true
				}
				if tainted(call.Args[1], vars, taintedFuncs) {
					report(fd.Name.Name, call.Args[1].Pos(), "the SQL argument of %s is built with fmt", sel.Sel.Name)
				}
				return true
			})
		}
	}
	return findings
}

// tainted reports whether e holds a fmt-made value, a tainted variable, or
// a call of a tainted function.
func tainted(e ast.Expr, vars map[string]bool, funcs map[string]bool) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if found {
			return false
		}
		switch x := n.(type) {
		case *ast.CallExpr:
			if _, ok := isFmtCall(x); ok {
				found = true
				return false
			}
			switch fn := x.Fun.(type) {
			case *ast.Ident:
				if funcs[fn.Name] {
					found = true
				}
			case *ast.SelectorExpr:
				if funcs[fn.Sel.Name] {
					found = true
				}
			}
		case *ast.Ident:
			if vars[x.Name] {
				found = true
			}
		}
		return true
	})
	return found
}

// taintedVars returns the variables of fd (by name) that hold fmt-made
// values, following assignments to a fixpoint.
func taintedVars(fd *ast.FuncDecl, funcs map[string]bool) map[string]bool {
	vars := map[string]bool{}
	for {
		changed := false
		mark := func(e ast.Expr) {
			if id := rootIdent(e); id != "" && !vars[id] {
				vars[id] = true
				changed = true
			}
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.AssignStmt:
				for i, rhs := range x.Rhs {
					if !tainted(rhs, vars, funcs) {
						continue
					}
					if len(x.Lhs) == len(x.Rhs) {
						mark(x.Lhs[i])
					} else {
						for _, l := range x.Lhs {
							mark(l)
						}
					}
				}
			case *ast.ValueSpec:
				for i, v := range x.Values {
					if tainted(v, vars, funcs) && i < len(x.Names) {
						mark(x.Names[i])
					}
				}
			case *ast.CallExpr:
				// fmt.Fprintf(&b, ...) taints b; b.WriteString(tainted) taints b.
				if name, ok := isFmtCall(x); ok && (name == "Fprintf") && len(x.Args) > 0 {
					mark(x.Args[0])
				}
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Write") {
					for _, a := range x.Args {
						if tainted(a, vars, funcs) {
							mark(sel.X)
						}
					}
				}
			}
			return true
		})
		if !changed {
			return vars
		}
	}
}

func rootIdent(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			if x.Name == "_" {
				return ""
			}
			return x.Name
		case *ast.UnaryExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.SelectorExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		default:
			return ""
		}
	}
}

// returnsTaint reports whether some return statement of fd returns a
// fmt-made value.
func returnsTaint(fd *ast.FuncDecl, funcs map[string]bool) bool {
	vars := taintedVars(fd, funcs)
	// Named results assigned a tainted value count too.
	if fd.Type.Results != nil {
		for _, fl := range fd.Type.Results.List {
			for _, n := range fl.Names {
				if vars[n.Name] {
					return returnsString(fd)
				}
			}
		}
	}
	found := false
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if r, ok := n.(*ast.ReturnStmt); ok {
			for _, e := range r.Results {
				if tainted(e, vars, funcs) {
					found = true
				}
			}
		}
		return !found
	})
	return found && returnsString(fd)
}

// returnsString reports whether fd returns a string or []string: only those
// can become SQL text (an error made with fmt.Errorf cannot).
func returnsString(fd *ast.FuncDecl) bool {
	if fd.Type.Results == nil {
		return false
	}
	for _, fl := range fd.Type.Results.List {
		switch ty := fl.Type.(type) {
		case *ast.Ident:
			if ty.Name == "string" {
				return true
			}
		case *ast.ArrayType:
			if id, ok := ty.Elt.(*ast.Ident); ok && id.Name == "string" {
				return true
			}
		}
	}
	return false
}
