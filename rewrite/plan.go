package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/match"
)

// ErrInvalidJSON is returned by Apply when the document is not valid JSON,
// which includes a string (member name or value) that is not valid UTF-8
// (RFC 8259 section 8.1). Nothing is written to dst in that case.
var ErrInvalidJSON = errors.New("document is not valid UTF-8 JSON")

// ErrOverlap is the category of *OverlapError, for errors.Is.
var ErrOverlap = errors.New("matched values overlap")

// ErrPatternTooComplex is returned by Apply when matching a wildcard against a
// key of the document exceeds the complexity bound (a defence against
// pathological keys). The plan cannot tell whether the key matches, so it
// refuses rather than guess.
var ErrPatternTooComplex = errors.New("wildcard match too complex")

// ErrTooDeep is returned by Apply when the document nests objects and
// arrays deeper than the plan's MaxDepth. It is checked by a linear scan
// before anything recurses, so a body of a million '[' costs one pass and no
// stack.
var ErrTooDeep = errors.New("document nests too deeply")

// ErrShapeMismatch is the category of *ShapeError, for errors.Is.
var ErrShapeMismatch = errors.New("value has another shape than the path implies")

// ShapeError reports a value where a path expects an object or array to
// descend into but finds another kind of value (a string where
// "address.street" expects the object "address", an object where "#.email"
// expects an array). Only plans compiled with Spec.StrictShape report it;
// null is never a mismatch (there is nothing under it to protect).
type ShapeError struct {
	Path   string // a path that expected to descend here
	Offset int    // byte offset of the value in the document
	Want   string // "object" or "array"
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("rewrite: path %q expects an %s at offset %d", e.Path, e.Want, e.Offset)
}

// Is makes errors.Is(err, ErrShapeMismatch) true.
func (e *ShapeError) Is(target error) bool { return target == ErrShapeMismatch }

// DefaultMaxDepth bounds how deeply a document may nest objects and arrays
// when Spec.MaxDepth is zero. Real documents stay far below it.
const DefaultMaxDepth = 128

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
	// members holds Spec.Members; see memberIndex.
	members memberSet
	prefix  string // Spec.Prefix
	strict  bool   // Spec.StrictShape
	depth   int    // Spec.MaxDepth, defaulted
	// scanAll is set when members or prefix need every value visited, not
	// only those the path trie reaches.
	scanAll bool
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
	// folded is an edgeKey or edgeWild argument with every rune
	// case-folded (foldKey), compared with a folded key when the plan
	// folds case.
	folded string
	// foldsI: the argument has an i, which the dotted and dotless I
	// (U+0130, U+0131) fold onto beyond strings.EqualFold (foldRune).
	foldsI bool
}

// span is one matched value: doc[off:end] is replaced by fn's output for path.
type span struct {
	off, end int
	path     int
}

// spanBuf is what one Apply borrows from its plan: the spans, and for
// applyInPlace the replacement values and where each ends.
type spanBuf struct {
	s    []span
	ends []int
	side []byte
}

// Spec is what a Plan matches. Apply's callback receives, for each matched
// value, an index: i < len(Paths) for a path, len(Paths)+j for Members[j],
// and PrefixMatch for a string found by Prefix.
type Spec struct {
	// Paths are gjson-style paths (see the package documentation).
	Paths []string
	// Members are object member names matched at any depth, after JSON
	// unescaping, in every object of the document. A matched member's value
	// is matched whole, whatever its type, and not descended into. Where a
	// path and a member match the same value, the path's index is given;
	// where one match lies inside another that involves a member or the
	// prefix, the outer one wins (it covers the inner value).
	Members []string
	// CaseSensitive compares Members exactly. By default they are compared
	// under Unicode simple case folding (strings.EqualFold), which is how
	// Go's encoding/json and several JVM mappers match member names to
	// fields, so "EMAIL", "Email" and "email" are one member.
	CaseSensitive bool
	// Prefix, when not empty, matches every string value (not member name)
	// whose content starts with it, at any depth, unless a path or member
	// already covers it. It finds sealed values wherever they are.
	Prefix string
	// StrictShape makes Apply fail with a *ShapeError when a path has to
	// descend into a value that is neither the container it expects nor
	// null.
	StrictShape bool
	// MaxDepth bounds nesting of objects and arrays (default
	// DefaultMaxDepth); deeper documents fail with ErrTooDeep.
	MaxDepth int
}

// PrefixMatch is the index Apply gives its callback for a value matched by
// Spec.Prefix alone.
const PrefixMatch = -1

// Compile parses paths (see the package documentation for the syntax) into a
// Plan. Every refused path is reported, each as a *PathError, joined with
// errors.Join. An empty list gives a Plan that copies documents unchanged.
func Compile(paths []string) (*Plan, error) { return CompileSpec(Spec{Paths: paths}) }

// CompileSpec is Compile for a full Spec. Members must be non-empty strings;
// a member given twice (under the plan's comparison) is an error.
func CompileSpec(spec Spec) (*Plan, error) {
	paths := spec.Paths
	p := &Plan{
		paths:  append([]string(nil), paths...),
		root:   &node{leaf: -1},
		prefix: spec.Prefix,
		strict: spec.StrictShape,
		depth:  spec.MaxDepth,
	}
	if p.depth <= 0 {
		p.depth = DefaultMaxDepth
	}
	members, err := newMemberSet(spec.Members, !spec.CaseSensitive)
	if err != nil {
		return nil, err
	}
	p.members = members
	p.scanAll = members.len() > 0 || p.prefix != ""
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
	e := edge{component: c, next: next}
	if c.kind == edgeWild || c.kind == edgeKey {
		e.folded = foldKey(c.arg)
		e.foldsI = strings.ContainsAny(c.arg, "iI")
	}
	n.edges = append(n.edges, e)
	return next
}

// Paths returns the compiled paths in their original order; Apply passes
// indexes into this list to fn.
func (p *Plan) Paths() []string { return append([]string(nil), p.paths...) }

// Apply copies doc to dst in one pass, replacing the value at every match of
// path i with the bytes fn appends to out. fn receives the raw JSON of the
// matched value (a string keeps its quotes) and must return out extended by
// the replacement raw JSON; it must not modify raw, nor keep it after it
// returns. Matches are visited in document order.
//
// dst must not overlap doc, with one exception: dst may be doc[:0], and
// then doc is rewritten in its own buffer where cap(doc) allows (the
// result starts where doc starts, or further in when it is shorter than
// doc), or else into a new buffer of exactly the result's size. Either way
// no second copy of the document is made.
//
// A document that is not valid JSON gives ErrInvalidJSON; overlapping matches
// give an *OverlapError; an error from fn is returned wrapped with its path.
// On error, dst is returned as it was given (its length is unchanged).
// Paths that match nothing are not an error.
func (p *Plan) Apply(dst, doc []byte, fn func(out []byte, i int, raw []byte) ([]byte, error)) ([]byte, error) {
	buf := p.spans.Get().(*spanBuf)
	defer p.spans.Put(buf)
	spans, err := p.scan(doc, buf)
	if err != nil {
		return dst, err
	}
	if len(spans) == 0 {
		if inPlace(dst, doc) {
			return doc, nil
		}
		return append(dst, doc...), nil
	}
	sortSpans(spans, len(p.paths))
	spans, err = p.resolve(spans)
	if err != nil {
		return dst, err
	}
	if inPlace(dst, doc) {
		return p.applyInPlace(doc, spans, buf, fn)
	}

	mark := len(dst)
	prev := 0
	for _, sp := range spans {
		dst = append(dst, doc[prev:sp.off]...)
		var err error
		dst, err = fn(dst, sp.path, doc[sp.off:sp.end:sp.end])
		if err != nil {
			return dst[:mark], fmt.Errorf("rewrite value of %s: %w", p.describe(sp.path), err)
		}
		prev = sp.end
	}
	return append(dst, doc[prev:]...), nil
}

// scan validates doc and collects the spans of its matches into buf, in
// one pass (scan.go). The errors keep the order in which Apply always
// reported them: ErrTooDeep for a document nesting too deeply, valid or
// not; then ErrInvalidJSON; then whatever else stopped the walk.
func (p *Plan) scan(doc []byte, buf *spanBuf) ([]span, error) {
	// gjson works on strings; this view of doc is used only during Apply and
	// every span found is an offset into doc itself.
	s := unsafe.String(unsafe.SliceData(doc), len(doc))
	w := walker{doc: s, b: doc, spans: buf.s[:0], plan: p, prefix0: '"'}
	if p.prefix != "" {
		w.prefix0 = p.prefix[0]
	}
	var root *node
	if len(p.root.edges) > 0 {
		root = p.root
	}
	end := w.walk(root, 0)
	buf.s = w.spans[:0]
	if end >= 0 && skipSpace(doc, end) != len(doc) {
		end = -1 // trailing data after the value
	}
	switch {
	case end >= 0:
		return w.spans, nil
	case errors.Is(w.err, ErrTooDeep):
		return nil, ErrTooDeep
	case w.err == nil:
		if err := checkDepth(doc, p.depth); err != nil {
			return nil, err
		}
		return nil, ErrInvalidJSON
	}
	// Stopped for another reason before the end: the rest of the document
	// still decides whether it was valid at all.
	v := walker{b: doc, plan: p}
	if e := v.skipValid(); e != nil {
		return nil, e
	}
	return nil, w.err
}

// skipValid validates the whole document, matching nothing, and returns
// what Apply reports for it: nil, ErrTooDeep or ErrInvalidJSON.
func (w *walker) skipValid() error {
	doc := w.b
	i := skipSpace(doc, 0)
	if i < len(doc) {
		i = w.skip(i)
	} else {
		i = -1
	}
	switch {
	case i >= 0 && skipSpace(doc, i) == len(doc):
		return nil
	case errors.Is(w.err, ErrTooDeep):
		return ErrTooDeep
	}
	if err := checkDepth(doc, w.plan.depth); err != nil {
		return err
	}
	return ErrInvalidJSON
}

// describe names match index i for error messages.
func (p *Plan) describe(i int) string {
	switch {
	case i == PrefixMatch:
		return "prefixed string"
	case i >= len(p.paths):
		return fmt.Sprintf("member %q", p.members.names[i-len(p.paths)])
	default:
		return fmt.Sprintf("path %q", p.paths[i])
	}
}

// resolve removes, from spans sorted by sortSpans, every span that lies
// inside another (JSON values either nest or are disjoint), keeping the
// outer one. Two path matches that overlap are an *OverlapError, as they
// always were: only members and the prefix give way.
func (p *Plan) resolve(spans []span) ([]span, error) {
	out := spans[:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && sp.off < out[n-1].end {
			last := out[n-1]
			if p.isPath(sp.path) && p.isPath(last.path) {
				return nil, &OverlapError{Path: p.paths[sp.path], Other: p.paths[last.path], Offset: sp.off}
			}
			continue
		}
		out = append(out, sp)
	}
	return out, nil
}

func (p *Plan) isPath(i int) bool { return i >= 0 && i < len(p.paths) }

// sortSpans orders spans by offset, outer before inner, and for one value a
// path before a member before the prefix. Insertion sort: the walk emits
// spans almost always in document order already, and there are few of them.
func sortSpans(s []span, npaths int) {
	rank := func(i int) int {
		switch {
		case i == PrefixMatch:
			return 2
		case i >= npaths:
			return 1
		}
		return 0
	}
	before := func(a, b span) bool {
		if a.off != b.off {
			return a.off < b.off
		}
		if a.end != b.end {
			return a.end > b.end
		}
		return rank(a.path) < rank(b.path)
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && before(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
