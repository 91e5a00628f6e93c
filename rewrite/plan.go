package rewrite

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/tidwall/match"
)

// ErrInvalidJSON is returned by Apply when the document is not valid JSON.
// Nothing is written to dst in that case.
var ErrInvalidJSON = errors.New("document is not valid JSON")

// ErrOverlap is the category of *OverlapError, for errors.Is.
var ErrOverlap = errors.New("matched values overlap")

// ErrPatternTooComplex is returned by Apply when matching a wildcard against a
// key of the document exceeds the complexity bound (a defence against
// pathological keys). The plan cannot tell whether the key matches, so it
// refuses rather than guess.
var ErrPatternTooComplex = errors.New("wildcard match too complex")

// maxMatchComplexity bounds wildcard matching work per key byte; gjson uses
// the same kind of bound for its own wildcard keys.
const maxMatchComplexity = 500

// OverlapError reports two matches of which one lies inside the other (or
// both name the same value), which only wildcards can produce at run time.
type OverlapError struct {
	Path, Other string // the two paths whose matches overlap
	Offset      int    // byte offset in the document where the later match starts
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("rewrite: value matched by path %q at offset %d overlaps value matched by path %q",
		e.Path, e.Offset, e.Other)
}

// Is makes errors.Is(err, ErrOverlap) true.
func (e *OverlapError) Is(target error) bool { return target == ErrOverlap }

// Plan is a compiled set of paths. It is immutable after Compile and safe for
// concurrent use by many goroutines.
type Plan struct {
	paths []string
	root  *node
	// spans recycles the span slices Apply needs, so Apply allocates nothing
	// but dst growth once warm.
	spans sync.Pool
}

// node is a state of the path trie: the set of paths that reached a value by
// the same components.
type node struct {
	edges []edge
	leaf  int // index of the path that ends here, or -1
}

type edge struct {
	component
	next *node
}

// span is one matched value: doc[off:end] is replaced by fn's output for path.
type span struct {
	off, end int
	path     int
}

type spanBuf struct{ s []span }

// Compile parses paths (see the package documentation for the syntax) into a
// Plan. Every refused path is reported, each as a *PathError, joined with
// errors.Join. An empty list gives a Plan that copies documents unchanged.
func Compile(paths []string) (*Plan, error) {
	p := &Plan{
		paths: append([]string(nil), paths...),
		root:  &node{leaf: -1},
	}
	p.spans.New = func() any { return &spanBuf{s: make([]span, 0, 16)} }
	var errs []error
	type compiled struct {
		i     int
		nodes []*node // nodes visited after each component
	}
	var done []compiled
	for i, path := range paths {
		comps, reason := parsePath(path)
		if reason != "" {
			errs = append(errs, &PathError{Index: i, Path: path, Reason: reason})
			continue
		}
		n := p.root
		visited := make([]*node, 0, len(comps))
		for _, c := range comps {
			n = n.child(c)
			visited = append(visited, n)
		}
		if n.leaf >= 0 {
			errs = append(errs, &PathError{Index: i, Path: path,
				Reason: fmt.Sprintf("same value as path %q", paths[n.leaf])})
			continue
		}
		n.leaf = i
		done = append(done, compiled{i, visited})
	}
	// A value replaced whole cannot also have a part of it replaced.
	for _, c := range done {
		for _, n := range c.nodes[:len(c.nodes)-1] {
			if n.leaf >= 0 {
				errs = append(errs, &PathError{Index: c.i, Path: paths[c.i],
					Reason: fmt.Sprintf("lies inside the value of path %q", paths[n.leaf])})
				break
			}
		}
	}
	errs = append(errs, p.root.conflicts(paths)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// conflicts finds pairs of edges of one node where a literal key is also
// matched by a wildcard (or an index by '#') and one side replaces the whole
// value: every document holding that key would then fail with an overlap,
// so it is a configuration error, reported at Compile.
func (n *node) conflicts(paths []string) []error {
	var errs []error
	for i := range n.edges {
		a := &n.edges[i]
		for j := range n.edges {
			b := &n.edges[j]
			if a.kind != edgeKey || b.kind == edgeKey {
				continue
			}
			covered := (b.kind == edgeWild && match.Match(a.arg, b.arg)) || (b.kind == edgeEach && a.index >= 0)
			if !covered || (a.next.leaf < 0 && b.next.leaf < 0) {
				continue
			}
			pa, pb := a.next.anyLeaf(), b.next.anyLeaf()
			later, earlier := max(pa, pb), min(pa, pb)
			errs = append(errs, &PathError{Index: later, Path: paths[later],
				Reason: fmt.Sprintf("matches a value that path %q also matches, or lies inside it", paths[earlier])})
		}
	}
	for i := range n.edges {
		errs = append(errs, n.edges[i].next.conflicts(paths)...)
	}
	return errs
}

// anyLeaf returns the index of some path that ends in n's subtree.
func (n *node) anyLeaf() int {
	if n.leaf >= 0 {
		return n.leaf
	}
	for i := range n.edges {
		if l := n.edges[i].next.anyLeaf(); l >= 0 {
			return l
		}
	}
	return -1
}

func (n *node) child(c component) *node {
	for i := range n.edges {
		if n.edges[i].component == c {
			return n.edges[i].next
		}
	}
	next := &node{leaf: -1}
	n.edges = append(n.edges, edge{component: c, next: next})
	return next
}

// Paths returns the compiled paths in their original order; Apply passes
// indexes into this list to fn.
func (p *Plan) Paths() []string { return append([]string(nil), p.paths...) }

// Apply copies doc to dst in one pass, replacing the value at every match of
// path i with the bytes fn appends to out. fn receives the raw JSON of the
// matched value (a string keeps its quotes) and must return out extended by
// the replacement raw JSON; it must not modify raw. Matches are visited in
// document order. dst must not overlap doc.
//
// A document that is not valid JSON gives ErrInvalidJSON; overlapping matches
// give an *OverlapError; an error from fn is returned wrapped with its path.
// On error, dst is returned as it was given (its length is unchanged).
// Paths that match nothing are not an error.
func (p *Plan) Apply(dst, doc []byte, fn func(out []byte, i int, raw []byte) ([]byte, error)) ([]byte, error) {
	if !gjson.ValidBytes(doc) {
		return dst, ErrInvalidJSON
	}
	if len(p.root.edges) == 0 {
		return append(dst, doc...), nil
	}
	buf := p.spans.Get().(*spanBuf)
	defer p.spans.Put(buf)

	// gjson works on strings; this view of doc is used only during Apply and
	// every span found is an offset into doc itself.
	s := unsafe.String(unsafe.SliceData(doc), len(doc))
	start := 0
	for start < len(s) && s[start] <= ' ' {
		start++
	}
	w := walker{doc: s, b: doc, spans: buf.s[:0]}
	w.walk(p.root, start)
	buf.s = w.spans[:0]
	if w.err != nil {
		return dst, w.err
	}
	spans := w.spans
	sortSpans(spans)
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].end {
			return dst, &OverlapError{Path: p.paths[spans[i].path], Other: p.paths[spans[i-1].path], Offset: spans[i].off}
		}
	}

	mark := len(dst)
	prev := 0
	for _, sp := range spans {
		dst = append(dst, doc[prev:sp.off]...)
		var err error
		dst, err = fn(dst, sp.path, doc[sp.off:sp.end:sp.end])
		if err != nil {
			return dst[:mark], fmt.Errorf("rewrite value of path %q: %w", p.paths[sp.path], err)
		}
		prev = sp.end
	}
	return append(dst, doc[prev:]...), nil
}

// sortSpans orders spans by offset. Insertion sort: the walk emits spans
// almost always in document order already, and there are few of them.
func sortSpans(s []span) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].off < s[j-1].off || (s[j].off == s[j-1].off && s[j].end > s[j-1].end)); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
