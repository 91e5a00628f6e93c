package policy

import "fmt"

// Spec is the `policies:` config section: the config package decodes it by
// its yaml tags (strictly, filling every Line field with the line of the
// part) and Compile checks it.
//
//	policies:
//	  allow_anonymous: false        # no token: 401 (false) or the default rule as "anonymous"
//	  default:                      # tokens matching no caller (and anonymous)
//	    actions: {"*": sealed}
//	    write: all
//	  callers:
//	    - id: billing
//	      match: {client_ids: [abc123], scopes: [customers/read], groups: [billing]}
//	      actions: {email: decrypt, phone: mask, "*": sealed}
//	      write: [email, phone]     # or all / none
//	    - id: ingest
//	      match: {client_ids: [def456]}
//	      read: false               # write-only: every class sealed on read
type Spec struct {
	AllowAnonymous bool         `yaml:"allow_anonymous"`
	Default        *Rule        `yaml:"default"`
	Callers        []CallerSpec `yaml:"callers"`
	Line           int
}

// Rule is what a caller may do.
type Rule struct {
	Actions Actions `yaml:"actions"`
	Write   *Write  `yaml:"write"` // nil = all
	Read    *bool   `yaml:"read"`  // nil = true
	// WriteSealed lists the classes whose values the caller may send
	// already sealed (a replication or backfill job); nil = none, beyond
	// the classes it reads sealed.
	WriteSealed *Write `yaml:"write_sealed"`
	Line        int
}

// CallerSpec is one configured caller: an id, a match and its rule.
type CallerSpec struct {
	ID          string  `yaml:"id"`
	Match       Match   `yaml:"match"`
	Actions     Actions `yaml:"actions"`
	Write       *Write  `yaml:"write"`        // nil = all
	Read        *bool   `yaml:"read"`         // nil = true
	WriteSealed *Write  `yaml:"write_sealed"` // nil = none
	Line        int
}

// Rule returns the caller's rule.
func (c CallerSpec) Rule() Rule {
	return Rule{Actions: c.Actions, Write: c.Write, Read: c.Read, WriteSealed: c.WriteSealed, Line: c.Line}
}

// Match selects callers by token claims. Lists are alternatives; every kind
// given must hold.
type Match struct {
	ClientIDs []string `yaml:"client_ids"`
	Scopes    []string `yaml:"scopes"`
	Groups    []string `yaml:"groups"`
	Line      int
}

// Actions maps class names (or "*", every other class) to action names, in
// config order; in YAML it is a mapping of class to action.
type Actions []ActionEntry

// ActionEntry is one `class: action` pair.
type ActionEntry struct {
	Class  string `yaml:",key"`
	Action string `yaml:",value"`
	Line   int
}

// Write is `write: all`, `write: none` or `write: [class, ...]`.
type Write struct {
	All     bool
	Classes []string `yaml:",seq"` // when !All; empty = none
	Line    int
}

// UnmarshalText reads the scalar forms, all and none.
func (w *Write) UnmarshalText(text []byte) error {
	switch s := string(text); s {
	case "all":
		w.All = true
	case "none":
	default:
		return fmt.Errorf("want all, none or a list of classes, not %q", s)
	}
	return nil
}
