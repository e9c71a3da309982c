package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackagesAreDocumented checks that every package says what it owns, and
// that domain packages never import the web or store layers (imports point
// inward: cmd → web → domain ← store).
func TestPackagesAreDocumented(t *testing.T) {
	domain := map[string]bool{"contact": true, "event": true, "clock": true}
	err := filepath.WalkDir("../../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, path, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") },
			parser.ParseComments|parser.ImportsOnly)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			documented := false
			for _, f := range pkg.Files {
				if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name+" ") {
					documented = true
				}
				if domain[name] {
					for _, imp := range f.Imports {
						p := strings.Trim(imp.Path.Value, `"`)
						if strings.HasSuffix(p, "/internal/web") || strings.HasSuffix(p, "/internal/store") {
							t.Errorf("domain package %s imports %s", name, p)
						}
					}
				}
			}
			if !documented {
				t.Errorf("package %s (%s) has no doc comment starting \"Package %s \"", name, path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
