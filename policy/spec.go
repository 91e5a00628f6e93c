package policy

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// Spec is the `policies:` config section. Config embeds it as is; every
// part records its YAML line for Compile's errors. Unknown keys are errors.
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
	Line           int          `yaml:"-"`
}

// Rule is what a caller may do.
type Rule struct {
	Actions Actions `yaml:"actions"`
	Write   Write   `yaml:"write"`
	Read    *bool   `yaml:"read"` // nil = true
	Line    int     `yaml:"-"`
}

// CallerSpec is one configured caller: an id, a match and its rule.
type CallerSpec struct {
	ID      string  `yaml:"id"`
	Match   Match   `yaml:"match"`
	Actions Actions `yaml:"actions"`
	Write   Write   `yaml:"write"`
	Read    *bool   `yaml:"read"` // nil = true
	Line    int     `yaml:"-"`
}

// Rule returns the caller's rule.
func (c CallerSpec) Rule() Rule {
	return Rule{Actions: c.Actions, Write: c.Write, Read: c.Read, Line: c.Line}
}

// Match selects callers by token claims. Lists are alternatives; every kind
// given must hold.
type Match struct {
	ClientIDs []string `yaml:"client_ids"`
	Scopes    []string `yaml:"scopes"`
	Groups    []string `yaml:"groups"`
	Line      int      `yaml:"-"`
}

// Actions maps class names (or "*", every other class) to action names, in
// config order.
type Actions []ActionEntry

// ActionEntry is one `class: action` pair.
type ActionEntry struct {
	Class  string
	Action string
	Line   int
}

// Write is `write: all`, `write: none` or `write: [class, ...]`.
// Unset means all.
type Write struct {
	Set     bool // the key was present
	All     bool
	Classes []string // when !All; empty = none
	Line    int
}

func checkKeys(n *yaml.Node, what string, allowed ...string) error {
	if n.Kind != yaml.MappingNode {
		return errorAt(n.Line, "%s must be a mapping", what)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(allowed, k.Value) {
			return errorAt(k.Line, "unknown key %q in %s (allowed: %v)", k.Value, what, allowed)
		}
	}
	return nil
}

// UnmarshalYAML decodes strictly and records the line.
func (s *Spec) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, "policies", "allow_anonymous", "default", "callers"); err != nil {
		return err
	}
	type plain Spec
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.Line = n.Line
	return nil
}

// UnmarshalYAML decodes strictly and records the line.
func (r *Rule) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, "default", "actions", "write", "read"); err != nil {
		return err
	}
	type plain Rule
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.Line = n.Line
	return nil
}

// UnmarshalYAML decodes strictly and records the line.
func (c *CallerSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, "caller", "id", "match", "actions", "write", "read"); err != nil {
		return err
	}
	type plain CallerSpec
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.Line = n.Line
	return nil
}

// UnmarshalYAML decodes strictly and records the line.
func (m *Match) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, "match", "client_ids", "scopes", "groups"); err != nil {
		return err
	}
	type plain Match
	if err := n.Decode((*plain)(m)); err != nil {
		return err
	}
	m.Line = n.Line
	return nil
}

// UnmarshalYAML keeps the entries in order with their lines.
func (a *Actions) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errorAt(n.Line, "actions must be a mapping of class to action")
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return errorAt(v.Line, "action for %q must be a name", k.Value)
		}
		*a = append(*a, ActionEntry{Class: k.Value, Action: v.Value, Line: k.Line})
	}
	return nil
}

// UnmarshalYAML accepts all, none or a list of classes.
func (w *Write) UnmarshalYAML(n *yaml.Node) error {
	*w = Write{Set: true, Line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "all":
			w.All = true
		case "none":
		default:
			return errorAt(n.Line, "write must be all, none or a list of classes, not %q", n.Value)
		}
		return nil
	case yaml.SequenceNode:
		return n.Decode(&w.Classes)
	}
	return errorAt(n.Line, "write must be all, none or a list of classes")
}
