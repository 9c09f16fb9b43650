package repotest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRepositoryRules checks the whole module.
func TestRepositoryRules(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module's root is not two levels above internal/repotest: %v", err)
	}
	problems, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestRulesCatchEachViolation runs the rules on a small module that breaks
// each of them once, and on its corrected twin.
func TestRulesCatchEachViolation(t *testing.T) {
	bad := map[string]string{
		"go.mod":                "module scratch\n",
		"a/doc.go":              "// Package a is fine.\npackage a\n",
		"a/mem.go":              "package a\n\nimport _ \"unsafe\"\n",
		"a/mem_unsafe.go":       "package a\n\nimport _ \"unsafe\"\n",
		"b/doc.go":              "// Package b.\npackage b\n",
		"b/more.go":             "// Package b again.\npackage b\n",
		"c/c.go":                "package c\n",
		"d/doc.go":              "// Package d.\npackage d\n",
		"d/cgo.go":              "package d\n\nimport \"C\"\n",
		"e/doc.go":              "// Package e.\npackage e\n",
		"e/ci.go":               "package e\n\nimport \"os\"\n\nvar ci = os.Getenv(\"CI\")\n",
		"e/ci_test.go":          "package e\n\nimport \"os\"\n\nvar ciT = os.Getenv(\"CI\")\n",
		"dpdk/doc.go":           "// Package dpdk.\npackage dpdk\n",
		"dpdk/cgo.go":           "package dpdk\n\nimport \"C\"\n",
		"internal/testenv/t.go": "// Package testenv.\npackage testenv\n\nimport \"os\"\n\nvar ci = os.Getenv(\"CI\")\n",
		"a/testdata/x.go":       "package broken\n\nimport _ \"unsafe\"\n",
	}
	want := []string{
		"a/mem.go: imports unsafe: only files named *_unsafe.go may",
		"b: 2 files carry a package comment (b/doc.go, b/more.go): keep one, in doc.go",
		"c: no package comment: write it in c/doc.go",
		"d/cgo.go: uses cgo (import \"C\"): only packages under dpdk/ may",
		"e/ci.go: names the CI variable: use testenv.Strict()",
		"e/ci_test.go: names the CI variable: use testenv.Strict()",
	}
	root := t.TempDir()
	write := func(files map[string]string) {
		for name, text := range files {
			path := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(bad)
	got, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, name := range []string{"a/mem.go", "b/more.go", "d/cgo.go", "e/ci.go", "e/ci_test.go"} {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]string{"c/doc.go": "// Package c.\npackage c\n"})
	if got, err := check(root); err != nil || len(got) != 0 {
		t.Errorf("the corrected module: %q, %v", got, err)
	}
}

// check parses every Go file under root, testdata and hidden directories
// left out, and returns the rules each breaks, sorted.
func check(root string) ([]string, error) {
	var problems []string
	// docs counts, per package directory and name (test packages left
	// out), the non-test files with a package comment.
	type pkgKey struct{ dir, name string }
	docs := map[pkgKey][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if file != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, file)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", rel, err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == "unsafe" && !strings.HasSuffix(name, "_unsafe.go") && !strings.HasSuffix(name, "_unsafe_test.go"):
				problems = append(problems, rel+": imports unsafe: only files named *_unsafe.go may")
			case p == "C" && !strings.HasPrefix(rel, "dpdk/"):
				problems = append(problems, rel+`: uses cgo (import "C"): only packages under dpdk/ may`)
			}
		}
		// testenv reads the variable; this package names it to look for it.
		if !strings.HasPrefix(rel, "internal/testenv/") && !strings.HasPrefix(rel, "internal/repotest/") && namesCI(f) {
			problems = append(problems, rel+": names the CI variable: use testenv.Strict()")
		}
		if !strings.HasSuffix(name, "_test.go") {
			k := pkgKey{path.Dir(rel), f.Name.Name}
			if _, ok := docs[k]; !ok {
				docs[k] = nil
			}
			if f.Doc != nil {
				docs[k] = append(docs[k], rel)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, files := range docs {
		switch {
		case len(files) == 0:
			problems = append(problems, fmt.Sprintf("%s: no package comment: write it in %s", k.dir, path.Join(k.dir, "doc.go")))
		case len(files) > 1:
			slices.Sort(files)
			problems = append(problems, fmt.Sprintf("%s: %d files carry a package comment (%s): keep one, in doc.go", k.dir, len(files), strings.Join(files, ", ")))
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// namesCI reports whether f holds the string literal "CI": the name of
// the variable, whichever call reads it.
func namesCI(f *ast.File) bool {
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil && s == "CI" {
				found = true
			}
		}
		return !found
	})
	return found
}

// vecd and vec-bench, the two programs that run the worker loop, are built
// with one profile (make pgo), so that vec-bench measures the loop vecd
// runs.
func TestWorkerProgramsShareOneProfile(t *testing.T) {
	var profiles [][]byte
	for _, main := range []string{"vecd", "vec-bench"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "cmd", main, "default.pgo"))
		if err != nil || len(b) == 0 {
			t.Fatalf("cmd/%s/default.pgo: %v (make pgo writes it)", main, err)
		}
		profiles = append(profiles, b)
	}
	if !slices.Equal(profiles[0], profiles[1]) {
		t.Error("cmd/vecd/default.pgo and cmd/vec-bench/default.pgo differ: make pgo writes both")
	}
}
