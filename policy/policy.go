package policy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/lineerr"
	"github.com/fieldseal/fieldseal/transform"
)

// Reserved caller ids.
const (
	IDAnonymous = "anonymous" // no token, allow_anonymous: true
	IDDefault   = "default"   // a verified token that matched no caller
)

// AllClasses is the actions key for "every class not named".
const AllClasses = "*"

// ErrPolicy is the category of every policy error: errors.Is(err, ErrPolicy).
var ErrPolicy = errors.New("invalid policy")

// errorAt returns a policy problem at a YAML line (0 when it has none) as
// a *lineerr.Error that matches ErrPolicy; the config package adds the file.
func errorAt(line int, format string, args ...any) *lineerr.Error {
	return &lineerr.Error{Line: line, Msg: fmt.Sprintf(format, args...), Err: ErrPolicy}
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Caller is a resolved caller: an id and its per-class decisions. It is
// immutable; lookups do not allocate.
type Caller struct {
	id       string
	actions  map[string]transform.Action
	other    transform.Action // for classes not in actions
	writeAll bool
	write    map[string]bool
	// sealedAll and sealed are the classes it may send already sealed.
	sealedAll bool
	sealed    map[string]bool
}

// ID is the configured caller id (or IDAnonymous / IDDefault): a bounded
// metric label and the audit caller.
func (c *Caller) ID() string { return c.id }

// Action is what to do with class's values in responses to this caller.
func (c *Caller) Action(class string) transform.Action {
	if a, ok := c.actions[class]; ok {
		return a
	}
	return c.other
}

// MayWrite reports whether this caller may send values of class (to be
// sealed). A request carrying a class it may not write is refused with 403.
func (c *Caller) MayWrite(class string) bool { return c.writeAll || c.write[class] }

// MayWriteSealed reports whether this caller may send values of class that
// are already sealed (write_sealed); it implements transform.SealedWriter.
func (c *Caller) MayWriteSealed(class string) bool { return c.sealedAll || c.sealed[class] }

type matcher struct {
	clientIDs, scopes, groups map[string]bool
}

func (m matcher) matches(id *auth.Identity) bool {
	if m.clientIDs != nil && !m.clientIDs[id.ClientID] {
		return false
	}
	if m.scopes != nil && !anyIn(id.Scopes, m.scopes) {
		return false
	}
	if m.groups != nil && !anyIn(id.Groups, m.groups) {
		return false
	}
	return true
}

func anyIn(have []string, want map[string]bool) bool {
	for _, h := range have {
		if want[h] {
			return true
		}
	}
	return false
}

// Policy is a compiled Spec. It is immutable and safe for concurrent use.
type Policy struct {
	allowAnonymous bool
	callers        []*Caller
	matchers       []matcher
	deflt          *Caller
	anonymous      *Caller
}

// Resolve returns the Caller for a verified identity; nil means a request
// without a token, which gets the anonymous caller (check AllowAnonymous
// first). The first configured caller whose match holds wins.
func (p *Policy) Resolve(id *auth.Identity) *Caller {
	if id == nil {
		return p.anonymous
	}
	for i, m := range p.matchers {
		if m.matches(id) {
			return p.callers[i]
		}
	}
	return p.deflt
}

// AllowAnonymous reports whether requests without a token are served (as
// IDAnonymous under the default rule) rather than refused with 401.
func (p *Policy) AllowAnonymous() bool { return p.allowAnonymous }

// CallerIDs lists every id Resolve can return, for pre-registering metric labels.
func (p *Policy) CallerIDs() []string {
	ids := []string{IDAnonymous, IDDefault}
	for _, c := range p.callers {
		ids = append(ids, c.id)
	}
	return ids
}

// Verifier is what Authenticate needs from auth.Verifier.
type Verifier interface {
	Verify(ctx context.Context, token string) (*auth.Identity, error)
}

// Authenticate resolves r's caller: no Authorization header gives the
// anonymous caller when allowed, and an *auth.Error with auth.ReasonMissing
// otherwise; any other token problem is the verifier's *auth.Error (the
// proxy answers 401 with its Reason). A bad token never falls back to
// anonymous.
func (p *Policy) Authenticate(r *http.Request, v Verifier) (*Caller, *auth.Identity, error) {
	token, err := auth.BearerToken(r)
	if err != nil {
		if auth.ReasonOf(err) == auth.ReasonMissing && p.allowAnonymous {
			return p.anonymous, nil, nil
		}
		// A refusal before any token reached the verifier (no header, not
		// Bearer) still counts in the verifier's failure metric.
		if rf, ok := v.(interface{ RecordFailure(error) }); ok {
			rf.RecordFailure(err)
		}
		return nil, nil, err
	}
	id, err := v.Verify(r.Context(), token)
	if err != nil {
		return nil, nil, err
	}
	return p.Resolve(id), id, nil
}

// builtinDefault is the rule when the config has no `default:`: every class
// sealed on read, writes allowed (they only seal).
var builtinDefault = Rule{Actions: Actions{{Class: AllClasses, Action: transform.NameSealed}}}

// Compile checks spec against the configured class names and builds the
// Policy. Every problem is reported (errors.Join), each a *lineerr.Error
// with its YAML line that matches ErrPolicy.
func Compile(spec Spec, classes []string) (*Policy, error) {
	c := compiler{classes: classes}
	p := &Policy{allowAnonymous: spec.AllowAnonymous}
	def := builtinDefault
	if spec.Default != nil {
		def = *spec.Default
	}
	p.deflt = c.rule(IDDefault, def)
	anon := *p.deflt
	anon.id = IDAnonymous
	p.anonymous = &anon
	seen := map[string]int{}
	for _, cs := range spec.Callers {
		switch {
		case cs.ID == IDAnonymous || cs.ID == IDDefault:
			c.errorf(cs.Line, "caller id %q is reserved", cs.ID)
		case !idPattern.MatchString(cs.ID):
			c.errorf(cs.Line, "caller id %q must be 1-63 lower-case letters, digits, '_', '.', '-'", cs.ID)
		case seen[cs.ID] != 0:
			c.errorf(cs.Line, "caller id %q already used at line %d", cs.ID, seen[cs.ID])
		}
		seen[cs.ID] = max(cs.Line, 1)
		line := cs.Match.Line
		if line == 0 {
			line = cs.Line
		}
		if len(cs.Match.ClientIDs) == 0 && len(cs.Match.Scopes) == 0 && len(cs.Match.Groups) == 0 {
			c.errorf(line, "caller %q: match needs client_ids, scopes or groups (use default: for everyone)", cs.ID)
		}
		p.callers = append(p.callers, c.rule(cs.ID, cs.Rule()))
		p.matchers = append(p.matchers, matcher{
			clientIDs: c.set(line, cs.ID, "client_ids", cs.Match.ClientIDs),
			scopes:    c.set(line, cs.ID, "scopes", cs.Match.Scopes),
			groups:    c.set(line, cs.ID, "groups", cs.Match.Groups),
		})
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return p, nil
}

type compiler struct {
	classes []string
	errs    []error
}

func (c *compiler) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, errorAt(line, format, args...))
}

func (c *compiler) set(line int, id, what string, list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		if s == "" {
			c.errorf(line, "caller %q: empty entry in %s", id, what)
		}
		m[s] = true
	}
	return m
}

func (c *compiler) rule(id string, r Rule) *Caller {
	caller := &Caller{id: id, actions: map[string]transform.Action{}, other: transform.ActionSealed, writeAll: true}
	readable := r.Read == nil || *r.Read
	for _, e := range r.Actions {
		a, err := transform.ParseAction(e.Action)
		if err != nil {
			c.errorf(e.Line, "caller %q, class %q: %v", id, e.Class, err)
			continue
		}
		if !readable && (a == transform.ActionDecrypt || a == transform.ActionMask) {
			c.errorf(e.Line, "caller %q has read: false but %s for class %q", id, e.Action, e.Class)
		}
		if e.Class == AllClasses {
			caller.other = a
			continue
		}
		if !slices.Contains(c.classes, e.Class) {
			c.errorf(e.Line, "caller %q: unknown class %q in actions", id, e.Class)
		}
		caller.actions[e.Class] = a
	}
	if r.Write != nil && !r.Write.All {
		caller.writeAll = false
		caller.write = map[string]bool{}
		for _, cl := range r.Write.Classes {
			if !slices.Contains(c.classes, cl) {
				c.errorf(r.Write.Line, "caller %q: unknown class %q in write", id, cl)
			}
			caller.write[cl] = true
		}
	}
	if w := r.WriteSealed; w != nil {
		caller.sealedAll = w.All
		caller.sealed = map[string]bool{}
		for _, cl := range w.Classes {
			if !slices.Contains(c.classes, cl) {
				c.errorf(w.Line, "caller %q: unknown class %q in write_sealed", id, cl)
			}
			caller.sealed[cl] = true
		}
	}
	return caller
}
