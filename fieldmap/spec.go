package fieldmap

import (
	"fmt"
	"time"
)

// Spec is a field map as configured: the classes and the protected routes,
// each entry with the line it was written at. Its yaml tags are the
// configuration keys (the config package decodes them); Compile checks a
// Spec and builds a Map.
type Spec struct {
	// File is the name problems are reported under (with the Line fields).
	File    string      `yaml:"-"`
	Classes []ClassSpec `yaml:"classes"` // in file order
	Routes  []RouteSpec `yaml:"routes"`  // in file order
	Guard   GuardSpec   `yaml:"guard"`
	// SealedPrefix is the prefix every sealed value starts with
	// (crypto.Prefix; this package knows nothing of keys). Sides find sealed
	// values anywhere in a document by it; empty finds none.
	SealedPrefix string `yaml:"-"`
}

// GuardSpec says how class members are protected on every request, beyond
// the paths routes list.
type GuardSpec struct {
	// Unmatched is what a request that no route lists gets when its body
	// carries a class member (UnmatchedSeal when empty).
	Unmatched Unmatched `yaml:"unmatched"`
	// MemberCase is how member names are compared with class keys
	// (CaseInsensitive when empty).
	MemberCase Case `yaml:"member_case"`
	// PathCase is how URL paths are compared with route patterns
	// (CaseInsensitive when empty), as Express and others route.
	PathCase Case `yaml:"path_case"`
	// SealedWrites says whether a client that is not authenticated (no
	// auth section) may send values already sealed (SealedWritesRefuse when
	// empty). Authenticated callers are decided by their policy.
	SealedWrites SealedWrites `yaml:"sealed_writes"`
	Line         int
}

// Unmatched is what happens to class members on a request no route lists.
type Unmatched string

const (
	// UnmatchedSeal seals them, as a route would (the default).
	UnmatchedSeal Unmatched = "seal"
	// UnmatchedRefuse answers 422 and forwards nothing.
	UnmatchedRefuse Unmatched = "refuse"
	// UnmatchedOff forwards them as they are: an explicit opt-out, logged at
	// start-up, for an application whose unlisted routes never store.
	UnmatchedOff Unmatched = "off"
)

// Case is how names are compared.
type Case string

const (
	// CaseInsensitive compares under Unicode simple case folding, as Go's
	// encoding/json and several JVM mappers bind member names (the default).
	CaseInsensitive Case = "insensitive"
	// CaseSensitive compares exactly.
	CaseSensitive Case = "sensitive"
)

// SealedWrites is whether unauthenticated clients may send sealed values.
type SealedWrites string

const (
	// SealedWritesRefuse answers 422 to a write carrying a sealed value (the
	// default): a value copied from another record would otherwise be
	// opened for whoever reads this one.
	SealedWritesRefuse SealedWrites = "refuse"
	// SealedWritesAccept keeps a sealed value that opens for its field (a
	// replication or backfill job in a deployment without authentication).
	SealedWritesAccept SealedWrites = "accept"
)

// Mode is a class's encryption mode.
type Mode string

const (
	// ModeRandom seals with a random nonce: equal plaintexts look different.
	// An empty Mode means ModeRandom.
	ModeRandom Mode = "random"
	// ModeDeterministic seals equal plaintexts (under one key) to equal
	// ciphertexts, so the application can look them up; it leaks equality.
	ModeDeterministic Mode = "deterministic"
)

// ClassSpec is a field class as configured. In YAML the classes are a
// mapping from name to settings.
type ClassSpec struct {
	Name string `yaml:",key"`
	Mode Mode   `yaml:"mode"`
	// Keys are the JSON member names (and form field names) that hold the
	// class: every request body, on every route, has them sealed wherever
	// they occur.
	Keys []string `yaml:"keys"`
	// SealEmpty seals null and "" like any other value. Off (the default),
	// they are left as they are in both directions: an app's "required"
	// check still sees the empty value, and the store reveals which records
	// have none (Class.SealEmpty).
	SealEmpty bool `yaml:"seal_empty"`
	// Operators makes a value that is an operator object ({"$eq": v},
	// {"$in": [..]}: every member name starts with "$") have its operands
	// sealed instead of the object, so query documents and records map at
	// once (Class.Operators). It needs ModeDeterministic.
	Operators bool `yaml:"operators"`
	Line      int
}

// RouteSpec is a protected route as configured.
type RouteSpec struct {
	Name     string      `yaml:"name"`
	Methods  []string    `yaml:"methods"`
	Paths    []PathSpec  `yaml:"paths"`
	Request  []FieldSpec `yaml:"request"`  // sealed in request bodies
	Response []FieldSpec `yaml:"response"` // opened in response bodies
	Context  ContextSpec `yaml:"context"`
	// ResponseTypes are media types (type/subtype) whose responses are
	// opened as JSON besides application/json and +json types, for
	// applications that serve JSON as text/plain.
	ResponseTypes []string `yaml:"response_types"`
	// ResponseSniff opens a response of any other (or no) media type when
	// its body is a JSON object or array (opt-in).
	ResponseSniff bool `yaml:"response_sniff"`
	// Query are query parameters sealed before the request is forwarded,
	// each with a deterministic class, so that equality lookups
	// (GET /customers?email=..) find the sealed values the application
	// stored, and the plaintext never reaches it (nor its access logs).
	Query []QuerySpec `yaml:"query"`
	// Stream is StreamNDJSON for a route whose JSON responses are change
	// feeds with one document per line; empty for none. Server-sent events
	// and NDJSON media types stream on every route.
	Stream string `yaml:"stream"`
	// UpstreamTimeout and BodyTimeout replace the proxy's timeouts on the
	// route (a long-poll feed holds its headers for a minute); zero keeps
	// them.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	BodyTimeout     time.Duration `yaml:"body_timeout"`
	Line            int
}

// StreamNDJSON is RouteSpec.Stream for one JSON document per line.
const StreamNDJSON = "ndjson"

// QuerySpec is one protected query parameter of a route.
type QuerySpec struct {
	// Param is the parameter name, compared as class keys are (see
	// GuardSpec.MemberCase), and read as form field names are (email[],
	// filter[email] stand for email).
	Param string `yaml:"param"`
	// Member, when set, makes the parameter a filter expression
	// (filter=email='..' && name='..'): every comparison of Member with a
	// quoted literal in it has the literal sealed, and a mention of Member
	// in any other form is refused. Empty: the whole value is sealed.
	Member string `yaml:"member"`
	// Class must be deterministic.
	Class string `yaml:"class"`
	Line  int
}

// ContextSpec binds a route's sealed values to a request context.
type ContextSpec struct {
	// Header is the request header bound into the AAD; empty for none.
	Header string `yaml:"header"`
	// PathParam is the path parameter ({name} in every path of the route)
	// bound into the AAD, so a value sealed for one record does not open
	// in another; empty for none. At most one of Header and PathParam.
	PathParam string `yaml:"path_param"`
	// Member is a top-level member of the body (a record id or tenant
	// field) whose value is bound into the AAD of every value sealed in the
	// request, and read from the response document to open it; empty for
	// none. At most one of Header, PathParam and Member.
	Member string `yaml:"member"`
}

// PathSpec is one URL path pattern of a route; in YAML it is a string.
type PathSpec struct {
	Pattern string
	Line    int
}

// UnmarshalText sets the pattern; it is checked by Compile.
func (p *PathSpec) UnmarshalText(text []byte) error {
	p.Pattern = string(text)
	return nil
}

// FieldSpec is one protected value of a body: a gjson path and its class.
type FieldSpec struct {
	Path  string `yaml:"path"`
	Class string `yaml:"class"`
	Line  int
}

// UnmarshalText accepts seal, refuse and off, so that a decoder reports
// another value at its own line.
func (u *Unmatched) UnmarshalText(text []byte) error {
	switch v := Unmatched(text); v {
	case UnmatchedSeal, UnmatchedRefuse, UnmatchedOff:
		*u = v
		return nil
	}
	return fmt.Errorf("%q is not seal, refuse or off", text)
}

// UnmarshalText accepts insensitive and sensitive.
func (c *Case) UnmarshalText(text []byte) error {
	switch v := Case(text); v {
	case CaseInsensitive, CaseSensitive:
		*c = v
		return nil
	}
	return fmt.Errorf("%q is not insensitive or sensitive", text)
}

// UnmarshalText accepts refuse and accept.
func (s *SealedWrites) UnmarshalText(text []byte) error {
	switch v := SealedWrites(text); v {
	case SealedWritesRefuse, SealedWritesAccept:
		*s = v
		return nil
	}
	return fmt.Errorf("%q is not refuse or accept", text)
}
