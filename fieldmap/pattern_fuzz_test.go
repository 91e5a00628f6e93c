package fieldmap

import (
	"strings"
	"testing"
)

// FuzzPattern checks that any accepted pattern matches a path built from it
// (parameters filled, prefix extended), overlaps itself, and that matching
// arbitrary paths never panics.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"/customers", "/customers/{id}", "/api/*", "/", "/a/{x}/b/{y}/*", "/A//b", "/{}"} {
		f.Add(s, "/customers/42")
	}
	f.Fuzz(func(t *testing.T, text, path string) {
		p, reason := parsePattern(text)
		p.match(path, true)
		if reason != "" {
			return
		}
		var b strings.Builder
		for _, s := range p.segs {
			b.WriteByte('/')
			if s.param {
				b.WriteString("v")
			} else {
				b.WriteString(s.lit)
			}
		}
		if p.prefix {
			b.WriteString("/deeper/still")
		}
		if built := b.String(); !p.match(built, true) && !(built == "" && p.match("/", true)) {
			t.Fatalf("pattern %q does not match %q", text, built)
		}
		if !p.overlaps(&p) {
			t.Fatalf("pattern %q does not overlap itself", text)
		}
	})
}
