package transform

// Field ops and results: what a Transform did with each value, as counted in
// FieldStat (and in the proxy's fieldseal_proxy_fields_total labels).
const (
	OpSeal = "seal"
	OpOpen = "open"
	OpMask = "mask"
	OpKeep = "keep" // left as it was

	ResultOK            = "ok"
	ResultAlreadySealed = "already_sealed"
	ResultLegacy        = "legacy"
	ResultEmpty         = "empty" // null or "" left as it is (the class does not seal empty values)
	ResultDenied        = "denied"
	ResultMasked        = "masked_value"
	ResultError         = "error"
	ResultSealedRefused = "sealed_refused"
)

// How a value was found: by a route's path, by a class member name, or as
// a sealed value at a place neither names (FieldStat.Via).
const (
	ViaPath   = "path"
	ViaMember = "member"
	ViaPrefix = "prefix"
)

// FieldStat counts the values of one class that met one fate.
type FieldStat struct {
	Class  string
	Action Action // the caller's action for the class
	Op     string // OpSeal, OpOpen, OpMask or OpKeep
	Result string // ResultOK, ResultAlreadySealed, ...
	Via    string // ViaPath, ViaMember or ViaPrefix
	Count  int
}

// Stats aggregates what one or more Transforms did: a handful of entries, so
// a slice with linear search beats a map. Callers that must not allocate
// back both slices with arrays of their own (Fields: buf[:0]). It carries no
// value and no key material.
type Stats struct {
	Fields []FieldStat
	// KeyIDs are the key versions used to seal or open, ascending, no
	// duplicates.
	KeyIDs []uint32
}

// add counts one value; a nil s counts nothing.
func (s *Stats) add(class string, a Action, op, result, via string) {
	if s == nil {
		return
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Class == class && f.Op == op && f.Result == result && f.Action == a && f.Via == via {
			f.Count++
			return
		}
	}
	s.Fields = append(s.Fields, FieldStat{Class: class, Action: a, Op: op, Result: result, Via: via, Count: 1})
}

// key records a key id used; a nil s records nothing.
func (s *Stats) key(id uint32) {
	if s == nil {
		return
	}
	for i, k := range s.KeyIDs {
		if k == id {
			return
		}
		if k > id {
			s.KeyIDs = append(s.KeyIDs, 0)
			copy(s.KeyIDs[i+1:], s.KeyIDs[i:])
			s.KeyIDs[i] = id
			return
		}
	}
	s.KeyIDs = append(s.KeyIDs, id)
}

// Sealed returns how many values found via (ViaPath, ViaMember or
// ViaPrefix) were sealed.
func (s *Stats) Sealed(via string) int {
	n := 0
	for _, f := range s.Fields {
		if f.Via == via && f.Op == OpSeal && f.Result == ResultOK {
			n += f.Count
		}
	}
	return n
}

// MergeSecondPass adds to s what o counted of a second pass, under another
// route's side, over a document a first pass counted in s transformed: the
// values it left as they were (OpKeep: sealed or opened by the first pass,
// or left sealed for the caller) are the first pass's and are not counted
// twice, unless the second pass failed on them. Key ids are all added. A
// nil s counts nothing.
func (s *Stats) MergeSecondPass(o *Stats) {
	if s == nil || o == nil {
		return
	}
	for _, f := range o.Fields {
		if f.Op == OpKeep && f.Result != ResultError && f.Result != ResultSealedRefused {
			continue
		}
		for range f.Count {
			s.add(f.Class, f.Action, f.Op, f.Result, f.Via)
		}
	}
	for _, k := range o.KeyIDs {
		s.key(k)
	}
}
