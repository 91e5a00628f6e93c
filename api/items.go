package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/jsonerror"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// valueMember is the member a value item is wrapped in: a value item is the
// one-field document {"value": <value>} of its class, sealed and opened by
// the transform like any other document, so its sealed form is exactly the
// proxy's for a field of that class.
const valueMember = "value"

// valuePlan matches the value of a wrapped value item. It is compiled once
// and immutable.
var valuePlan = func() *rewrite.Plan {
	p, err := rewrite.Compile([]string{valueMember})
	if err != nil {
		panic("api: compile the value plan: " + err.Error())
	}
	return p
}()

// catalog is what items can name in one field map: a value side per class
// and the routes by name. It is immutable.
type catalog struct {
	values map[string]*fieldmap.Side
	routes map[string]*fieldmap.Route
	// classes are the classes by name, for field lists; all are every class
	// by Index (fieldmap.Side.Classes).
	classes map[string]*fieldmap.Class
	all     []*fieldmap.Class
	// members are the class members of the map (every class key with its
	// class), matched in field-list documents as on the map's routes,
	// compared as guard.member_case says.
	members       []fieldmap.Field
	memberNames   []string
	caseSensitive bool
	// acceptSealed is guard.sealed_writes: accept, which lets callers of an
	// API without authentication send values already sealed.
	acceptSealed bool
	// inner is the map's plan for members and sealed values inside a value
	// matched whole (fieldmap.Side.Inner).
	inner *rewrite.Plan
}

func newCatalog(m *fieldmap.Map) *catalog {
	all := m.Classes()
	c := &catalog{
		values: map[string]*fieldmap.Side{}, routes: map[string]*fieldmap.Route{}, classes: map[string]*fieldmap.Class{},
		all: all, members: m.Unmatched().Request.Members,
		caseSensitive: m.Guard().MemberCase == fieldmap.CaseSensitive,
		acceptSealed:  m.Guard().SealedWrites == fieldmap.SealedWritesAccept,
		inner:         m.Unmatched().Request.Inner,
	}
	for _, f := range c.members {
		c.memberNames = append(c.memberNames, f.Path)
	}
	for _, cl := range all {
		c.classes[cl.Name] = cl
		// The value itself may be an object or array: members and sealed
		// values inside it are handled as inside any value sealed whole.
		c.values[cl.Name] = &fieldmap.Side{Plan: valuePlan, Fields: []fieldmap.Field{{Path: valueMember, Class: cl}}, Classes: all,
			Members: c.members, Inner: m.Unmatched().Request.Inner}
	}
	for _, r := range m.Routes() {
		c.routes[r.Name] = r
	}
	return c
}

// batch is a call's body.
type batch struct {
	Items []json.RawMessage `json:"items"`
}

// item is one entry of a batch: a value with its class, or a document with
// a route or a field list; context is the AAD context in both.
type item struct {
	Class    string          `json:"class"`
	Value    json.RawMessage `json:"value"`
	Context  *string         `json:"context"`
	Route    string          `json:"route"`
	Fields   []field         `json:"fields"`
	Document json.RawMessage `json:"document"`
}

type field struct {
	Path  string `json:"path"`
	Class string `json:"class"`
}

// parseBatch checks a body is a batch and returns its raw items.
func (a *API) parseBatch(body []byte) ([]json.RawMessage, error) {
	if !json.Valid(body) {
		return nil, fmt.Errorf("parse request body: %w", jsonerror.ErrInvalidJSON)
	}
	var b batch
	if err := strictDecode(body, &b); err != nil {
		return nil, fmt.Errorf(`request body is not {"items":[...]}: %v: %w`, err, ErrInvalidRequest)
	}
	switch {
	case len(b.Items) == 0:
		return nil, fmt.Errorf("request body has no items: %w", ErrInvalidRequest)
	case len(b.Items) > a.maxItems:
		return nil, fmt.Errorf("request body has %d items (limit %d): %w", len(b.Items), a.maxItems, ErrInvalidRequest)
	}
	return b.Items, nil
}

// strictDecode decodes data into v refusing unknown members. Its errors
// name types and members, never values.
func strictDecode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("member %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return err
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string", "ptr":
		return "a string"
	case "slice":
		return "an array"
	case "struct":
		return "an object"
	}
	return goKind
}

// processor answers the items of one call.
type processor struct {
	cat    *catalog
	ring   *crypto.Keyring
	caller Caller
	masker transform.Masker
	c      *call
	// unauthenticated is set when the API has no authentication (its
	// Authenticator is Anonymous).
	unauthenticated bool
	// others is the "others" array of the lookup item being answered (nil
	// for other items): see lookupOthers.
	others []byte
}

// item appends the answer to one raw item to out: {"value":..} (for a
// lookup {"value":..,"others":[..]}), {"document":..} or
// {"error":{"code":..,"message":..}}.
func (p *processor) item(out []byte, op string, raw json.RawMessage) []byte {
	p.others = nil
	member, res, err := p.run(op, raw)
	if err != nil {
		code := itemCode(err)
		p.c.results[code]++
		out = append(out, `{"error":{"code":`...)
		out = appendString(out, code)
		out = append(out, `,"message":`...)
		out = appendString(out, err.Error())
		return append(out, "}}"...)
	}
	p.c.results[outcomeOK]++
	out = append(out, `{"`...)
	out = append(out, member...)
	out = append(out, `":`...)
	out = append(out, res...)
	if p.others != nil {
		out = append(out, `,"others":`...)
		out = append(out, p.others...)
	}
	return append(out, '}')
}

// run answers one item: the member name of its answer and the answer's raw
// JSON, or an item error.
func (p *processor) run(op string, raw json.RawMessage) (string, []byte, error) {
	var it item
	if err := strictDecode(raw, &it); err != nil {
		return "", nil, fmt.Errorf("%w: %v", errInvalidItem, err)
	}
	hasValue, hasDoc := len(it.Value) > 0, len(it.Document) > 0
	switch {
	case hasValue && hasDoc:
		return "", nil, fmt.Errorf("%w: give a value or a document, not both", errInvalidItem)
	case hasValue:
		if it.Route != "" || it.Fields != nil {
			return "", nil, fmt.Errorf("%w: a value takes a class, not a route or fields", errInvalidItem)
		}
		res, err := p.value(op, it)
		return valueMember, res, err
	case hasDoc:
		if op == OpLookup {
			return "", nil, fmt.Errorf("%w: lookup takes values with a class, not documents", errInvalidItem)
		}
		res, err := p.document(op, it)
		return "document", res, err
	default:
		return "", nil, fmt.Errorf("%w: give a value with a class, or a document with a route or fields", errInvalidItem)
	}
}

// value seals, opens or looks up one value of a class.
func (p *processor) value(op string, it item) ([]byte, error) {
	if it.Class == "" {
		return nil, fmt.Errorf("%w: a value needs its class", errInvalidItem)
	}
	side, ok := p.cat.values[it.Class]
	if !ok {
		return nil, fmt.Errorf("%w %q", errUnknownClass, it.Class)
	}
	class := side.Fields[0].Class
	switch op {
	case OpLookup:
		if !class.Deterministic {
			return nil, fmt.Errorf("class %q: %w (lookups need mode: deterministic)", it.Class, errNotDeterministic)
		}
		if it.Value[0] == '"' && crypto.IsSealed(rewrite.StringContent(it.Value)) {
			return nil, fmt.Errorf("class %q: %w; lookup takes the plaintext", it.Class, errNotPlaintext)
		}
	case OpOpen:
		switch p.caller.Action(it.Class) {
		case transform.ActionDecrypt, transform.ActionMask, transform.ActionSealed:
		default:
			return nil, fmt.Errorf("class %q: %w: the caller may not open this class", it.Class, transform.ErrForbidden)
		}
	}
	doc := make([]byte, 0, len(`{"value":}`)+len(it.Value))
	doc = append(doc, `{"`+valueMember+`":`...)
	doc = append(doc, it.Value...)
	doc = append(doc, '}')
	out, err := p.transform(op, side, contextOf(it.Context), doc)
	if err != nil {
		return nil, valueError(it.Class, err)
	}
	if op == OpLookup {
		if p.others, err = p.lookupOthers(side, contextOf(it.Context), doc); err != nil {
			return nil, valueError(it.Class, err)
		}
	}
	return unwrapValue(out), nil
}

// unwrapValue is the value of a transformed value item: the plan copies
// bytes outside the value as they are, so it is exactly what lies between
// the wrapper's bytes.
func unwrapValue(doc []byte) []byte {
	return doc[len(`{"`+valueMember+`":`) : len(doc)-1]
}

// valueError is err of a value item of class: the wrapper's path means
// nothing to the caller; the class does.
func valueError(class string, err error) error {
	var fe *transform.FieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("class %q: %w", class, fe.Err)
	}
	return err
}

// lookupOthers returns the JSON array of the values a lookup item's
// plaintext has under the ring's other openable versions, newest first
// (crypto.Keyring.LookupVersions): a store re-sealing its values after an
// explicit lookup rotation (`keys rotate-lookup`) holds some of them, and a
// ring rotated by a release before lookup versions may too. They are
// search terms: they are not counted as seals, in metrics or the audit
// event.
func (p *processor) lookupOthers(side *fieldmap.Side, ctx string, doc []byte) ([]byte, error) {
	out := []byte{'['}
	for i, id := range p.ring.LookupVersions() {
		ring, err := p.ring.ForLookup(id)
		if err != nil {
			return nil, err
		}
		t := transform.New(transform.Params{Ring: ring, Side: side, Caller: p.caller, Context: ctx, Masker: p.masker,
			AcceptSealed: p.unauthenticated && p.cat.acceptSealed})
		sealed, err := t.Seal(nil, doc)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, unwrapValue(sealed)...)
	}
	return append(out, ']'), nil
}

// document seals or opens a whole document by a route's fields or a field
// list.
func (p *processor) document(op string, it item) ([]byte, error) {
	if it.Class != "" {
		return nil, fmt.Errorf("%w: a document takes a route or fields, not a class", errInvalidItem)
	}
	var side *fieldmap.Side
	ctx := contextOf(it.Context)
	switch {
	case it.Route != "" && it.Fields != nil:
		return nil, fmt.Errorf("%w: give a route or fields, not both", errInvalidItem)
	case it.Route != "":
		r, ok := p.cat.routes[it.Route]
		if !ok {
			return nil, fmt.Errorf("%w %q", errUnknownRoute, it.Route)
		}
		side, ok = routeSide(r, op)
		if !ok {
			return nil, fmt.Errorf("route %q: %w (%s uses the route's %s fields)", it.Route, errNoFields, op, sideName(op))
		}
		binds := r.ContextHeader != "" || r.ContextParam != "" || r.ContextMember != ""
		switch {
		case binds && ctx == "":
			return nil, fmt.Errorf("route %q binds its values to a context (a header, path parameter or member in the proxy): %w", it.Route, errMissingContext)
		case !binds && it.Context != nil:
			return nil, fmt.Errorf("%w: route %q binds no context", errInvalidItem, it.Route)
		}
	case it.Fields != nil:
		var err error
		if side, err = p.fieldSide(it.Fields, op); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: a document needs a route or fields", errInvalidItem)
	}
	out, err := p.transform(op, side, ctx, it.Document)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// routeSide is the side of r that op uses; ok is false when it names no
// value: no path on that side and no class member in the map.
func routeSide(r *fieldmap.Route, op string) (side *fieldmap.Side, ok bool) {
	side = r.Response
	if op == OpSeal {
		side = r.Request
	}
	return side, side != nil && (side.HasPaths() || len(side.Members) > 0)
}

func sideName(op string) string {
	if op == OpSeal {
		return "request"
	}
	return "response"
}

// fieldSide compiles an item's field list for op as the map compiles a
// route's side: the listed paths, then every class member of the map, and
// sealed values wherever they are (crypto.Prefix); a seal refuses a path
// that meets another shape than it implies (rewrite.ErrShapeMismatch).
func (p *processor) fieldSide(fields []field, op string) (*fieldmap.Side, error) {
	if len(fields) == 0 || len(fields) > MaxFieldsPerItem {
		return nil, fmt.Errorf("%w: give 1 to %d fields, not %d", errInvalidFields, MaxFieldsPerItem, len(fields))
	}
	side := &fieldmap.Side{Fields: make([]fieldmap.Field, len(fields)), Members: p.cat.members, Classes: p.cat.all, Inner: p.cat.inner}
	paths := make([]string, len(fields))
	for i, f := range fields {
		cl, ok := p.cat.classes[f.Class]
		switch {
		case f.Path == "" || f.Class == "":
			return nil, fmt.Errorf("%w: fields[%d] needs a path and a class", errInvalidFields, i)
		case !ok:
			return nil, fmt.Errorf("fields[%d]: %w %q", i, errUnknownClass, f.Class)
		}
		paths[i] = f.Path
		side.Fields[i] = fieldmap.Field{Path: f.Path, Class: cl}
	}
	plan, err := rewrite.CompileSpec(rewrite.Spec{
		Paths:         paths,
		Members:       p.cat.memberNames,
		CaseSensitive: p.cat.caseSensitive,
		Prefix:        crypto.Prefix,
		StrictShape:   op == OpSeal,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errInvalidFields, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	side.Plan = plan
	return side, nil
}

// transform runs the transform of op on doc. A refreshed key ring is kept
// for the rest of the call. A value to seal that is already sealed is kept
// only for a caller that may send sealed values (transform.SealedWriter:
// policies' write_sealed), or for every caller of an API without
// authentication when guard.sealed_writes is accept, as on the proxy;
// otherwise it is refused (transform.ErrSealedWrite).
func (p *processor) transform(op string, side *fieldmap.Side, ctx string, doc []byte) ([]byte, error) {
	params := transform.Params{
		Ring: p.ring, Side: side, Caller: p.caller, Context: ctx, Masker: p.masker, Stats: &p.c.st,
		AcceptSealed: p.unauthenticated && p.cat.acceptSealed,
	}
	if p.c.refresh.Keys != nil {
		params.Refresh = &p.c.refresh
	}
	t := transform.New(params)
	var out []byte
	var err error
	if op == OpOpen {
		out, err = t.Open(nil, doc)
	} else {
		out, err = t.Seal(nil, doc)
	}
	p.ring = t.Ring()
	return out, err
}

func contextOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// appendString appends s as a JSON string literal.
func appendString(dst []byte, s string) []byte {
	return rewrite.AppendString(dst, []byte(s))
}
