package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEListsEveryMetric keeps the README's metrics table and the
// metrics the code registers in step, both ways.
func TestREADMEListsEveryMetric(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Metrics are declared with an Opts literal or promreg's constructors.
	defined := regexp.MustCompile(`(?:Name:\s*|promreg\.\w+\(\w+,\s*)"(fieldseal_[a-z0-9_]+)"`)
	var inCode []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range defined.FindAllSubmatch(src, -1) {
			inCode = append(inCode, string(m[1]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inCode) < 10 {
		t.Fatalf("found only %d metric definitions; has the way metrics are declared changed?", len(inCode))
	}
	for _, name := range inCode {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("metric %s is registered in code but not listed in README.md", name)
		}
	}
	listed := regexp.MustCompile("`(fieldseal_[a-z0-9_]+)`").FindAllSubmatch(readme, -1)
	for _, m := range listed {
		if name := string(m[1]); !slices.Contains(inCode, name) {
			t.Errorf("README.md lists metric %s, which no code registers", name)
		}
	}
}
