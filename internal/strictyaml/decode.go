package strictyaml

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fieldseal/fieldseal/lineerr"
)

// Lines are the lines of the keys and list entries of a decoded document,
// by path.
type Lines struct {
	// Root is the line of the document's top-level mapping.
	Root int
	m    map[string]int
}

// Line returns the line of path and whether the document has it.
func (l *Lines) Line(path string) (int, bool) {
	n, ok := l.m[path]
	return n, ok
}

// At returns the line of path, or the root mapping's line when the
// document does not have it (a check about a key the file left out).
func (l *Lines) At(path string) int {
	if n, ok := l.m[path]; ok {
		return n
	}
	return l.Root
}

// Decode decodes the single YAML document in data into v, a non-nil
// pointer to a struct, reporting problems as *lineerr.Error in file, joined.
// It returns nil Lines when there is no top-level mapping to decode (an
// empty file, a syntax error, or a document that is not a mapping); with
// Lines, v holds everything that decoded, even when err is not nil.
func Decode(data []byte, file string, v any) (*Lines, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic("strictyaml: Decode needs a non-nil pointer to a struct")
	}
	d := &decoder{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "file is empty")
		} else {
			line, msg := syntaxError(err)
			if strings.Contains(msg, "did not find expected ',' or ']'") {
				msg += "; quote list items that contain { or [, such as \"/customers/{id}\""
			}
			d.errorf(line, "%s", msg)
		}
		return nil, d.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		d.errorf(extra.Line, "only one YAML document is allowed")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		d.errorf(root.Line, "the top level must be a mapping of keys to values")
		return nil, d.err()
	}
	d.lines = &Lines{Root: root.Line, m: map[string]int{}}
	d.decode(root, rv.Elem(), "")
	return d.lines, d.err()
}

// syntaxError splits a yaml.v3 syntax error ("yaml: line 3: did not find
// ...") into its line (0 if none) and message. yaml.v3 reports some parser
// errors one line before the construct at fault, hence "near".
func syntaxError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if j := strings.IndexByte(rest, ':'); j > 0 {
			if n, err := strconv.Atoi(rest[:j]); err == nil {
				text := strings.TrimSpace(rest[j+1:])
				// An unclosed flow collection is reported at its context
				// mark, which yaml.v3 counts from 0: the line of the
				// opening bracket is one more.
				if strings.HasPrefix(text, "did not find expected ',' or") {
					n++
				}
				return n, "invalid YAML near here: " + text
			}
		}
	}
	return 0, "invalid YAML: " + msg
}

type decoder struct {
	file  string
	errs  []error
	lines *Lines
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, &lineerr.Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// where names path in messages about its mapping.
func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// decode decodes n into v (addressable), named path in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		d.decodePointer(n, v, path)
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		switch {
		case n.Kind == yaml.ScalarNode:
			d.decodeText(n, v, path)
			return
		case t.Kind() != reflect.Struct || !hasKeys(t):
			d.notString(n, path)
			return
		}
	}
	switch {
	case t == durationType:
		d.decodeDuration(n, v, path)
	case t.Kind() == reflect.String:
		if s, ok := d.str(n, path); ok {
			v.SetString(s)
		}
	case t.Kind() == reflect.Bool:
		d.decodeBool(n, v, path)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		d.decodeInt(n, v, path)
	case t.Kind() == reflect.Slice && keyField(t.Elem()) != nil:
		d.decodeKeyed(n, v, path)
	case t.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		panic(fmt.Sprintf("strictyaml: %s: cannot decode into %s", path, t))
	}
}

// decodePointer allocates a pointer's target. A missing value (null) leaves
// a pointer to a plain value nil, but a key given without its section's
// content is not read as "not configured": a struct section is refused, and
// a text type reads the empty text (and so says what it wants).
func (d *decoder) decodePointer(n *yaml.Node, v reflect.Value, path string) {
	et := v.Type().Elem()
	if isNull(n) && et.Kind() == reflect.Struct && !reflect.PointerTo(et).Implements(textUnmarshalerType) {
		d.errorf(n.Line, "%s must be a mapping of keys to values", where(path))
		return
	}
	if isNull(n) && !reflect.PointerTo(et).Implements(textUnmarshalerType) {
		return
	}
	if v.IsNil() {
		v.Set(reflect.New(et))
	}
	d.decode(n, v.Elem(), path)
}

func (d *decoder) decodeText(n *yaml.Node, v reflect.Value, path string) {
	text := n.Value
	if isNull(n) {
		text = ""
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
		d.errorf(n.Line, "%s: %v", path, err)
	}
	setLine(v, n.Line)
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	switch {
	case isNull(n):
		return "", true
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		return n.Value, true
	case n.Kind == yaml.ScalarNode:
		d.errorf(n.Line, "%s must be a string, not %s; quote it", path, tagName(n))
	default:
		d.notString(n, path)
	}
	return "", false
}

func (d *decoder) notString(n *yaml.Node, path string) {
	if n.Style&yaml.FlowStyle != 0 {
		d.errorf(n.Line, "%s must be a string, not a %s; quote values that contain { or [", path, kindName(n))
		return
	}
	d.errorf(n.Line, "%s must be a string, not a %s", path, kindName(n))
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n.Line, "%s must be a duration like 30s, 1m or 1h30m", path)
		return
	}
	t, err := ParseDuration(n.Value)
	if err != nil {
		d.errorf(n.Line, "%s: %q is not a duration; write it like 30s, 1m, 1h30m or 90d", path, n.Value)
		return
	}
	v.SetInt(int64(t))
}

// ParseDuration parses a Go duration (30s, 1m, 1h30m) or a whole number of
// days (90d, 24 hours each), the one duration syntax of config files and
// command-line flags. It does not check the sign.
func ParseDuration(s string) (time.Duration, error) {
	days, ok := strings.CutSuffix(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want whole days (90d) or a Go duration (2160h)", s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n.Line, "%s must be true or false", path)
		return
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		// YAML 1.1 spellings (yes, on) that yaml.v3 still tags !!bool.
		d.errorf(n.Line, "%s: write %q as true or false", path, n.Value)
		return
	}
	v.SetBool(b)
}

// decodeInt reads an integer; int fields are bounded to 32 bits so that a
// configuration means the same on every platform.
func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n.Line, "%s must be an integer", path)
		return
	}
	bits := v.Type().Bits()
	if v.Kind() == reflect.Int {
		bits = 32
	}
	i, err := strconv.ParseInt(n.Value, 0, bits)
	if err != nil {
		d.errorf(n.Line, "%s must be an integer between -2^%d and 2^%d", path, bits-1, bits-1)
		return
	}
	v.SetInt(i)
}

// decodeSlice reads a list. Entries that are mappings are named path[i] in
// messages; scalar entries are named by the list.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, "%s must be a list", path)
		return
	}
	et := v.Type().Elem()
	named := et.Kind() == reflect.Struct && !reflect.PointerTo(et).Implements(textUnmarshalerType)
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		e = resolve(e)
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines.m[p] = e.Line
		if !named {
			p = path
		}
		d.decode(e, out.Index(i), p)
	}
	v.Set(out)
}

// decodeKeyed reads a mapping into a slice of structs with a ,key field.
func (d *decoder) decodeKeyed(n *yaml.Node, v reflect.Value, path string) {
	et := v.Type().Elem()
	key, value := keyField(et), valueField(et)
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content)/2)
	d.pairs(n, path, nil, func(k, val *yaml.Node, p string) bool {
		e := reflect.New(et).Elem()
		e.FieldByIndex(key).SetString(k.Value)
		if value != nil {
			d.decode(val, e.FieldByIndex(value), p)
		} else {
			d.decode(val, e, p)
		}
		setLine(e, k.Line)
		out = reflect.Append(out, e)
		return true
	})
	if out.Len() > 0 {
		v.Set(out)
	}
}

// pairs calls fn for each key of the mapping n, with the key's path; fn
// reports false for a key it does not know. Keys that are not plain
// names, repeated keys and unknown keys are errors; an unknown key's error
// names the nearest of the known keys, if one is near enough.
func (d *decoder) pairs(n *yaml.Node, path string, known []string, fn func(k, v *yaml.Node, p string) bool) {
	if isNull(n) {
		return // an empty section keeps its defaults
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "%s must be a mapping of keys to values", where(path))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, "%s has a key that is not a plain name", where(path))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, "key %q repeated in %s (first at line %d)", k.Value, where(path), first)
			continue
		}
		seen[k.Value] = k.Line
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		d.lines.m[p] = k.Line
		if !fn(k, v, p) {
			if s, ok := nearest(k.Value, known); ok {
				d.errorf(k.Line, "unknown key %q in %s (did you mean %q?)", k.Value, where(path), s)
			} else {
				d.errorf(k.Line, "unknown key %q in %s", k.Value, where(path))
			}
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.SequenceNode {
		if f, ok := fieldsOf(v)[",seq"]; ok {
			d.decodeSlice(n, f, path)
			setLine(v, n.Line)
			return
		}
	}
	if n.Kind == yaml.MappingNode {
		setLine(v, n.Line)
	}
	fields := fieldsOf(v)
	known := make([]string, 0, len(fields))
	for name := range fields {
		if name != ",seq" {
			known = append(known, name)
		}
	}
	d.pairs(n, path, known, func(k, val *yaml.Node, p string) bool {
		f, ok := fields[k.Value]
		if !ok {
			return false
		}
		d.decode(val, f, p)
		return true
	})
}

// fieldsOf returns v's settable fields by YAML key, inline structs
// flattened; a ,seq field is listed under ",seq".
func fieldsOf(v reflect.Value) map[string]reflect.Value {
	m := map[string]reflect.Value{}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts := parseTag(sf)
		switch {
		case !sf.IsExported() || name == "-":
		case opts == "inline":
			for k, f := range fieldsOf(v.Field(i)) {
				m[k] = f
			}
		case opts == "seq":
			m[",seq"] = v.Field(i)
		case name != "":
			m[name] = v.Field(i)
		}
	}
	return m
}

// hasKeys reports whether struct type t may be written as a mapping or a
// list, not only as a scalar.
func hasKeys(t reflect.Type) bool {
	for i := range t.NumField() {
		if name, opts := parseTag(t.Field(i)); name != "" && name != "-" || opts == "inline" || opts == "seq" {
			return true
		}
	}
	return false
}

func parseTag(sf reflect.StructField) (name, opts string) {
	tag, ok := sf.Tag.Lookup("yaml")
	if !ok {
		return "", ""
	}
	name, opts, _ = strings.Cut(tag, ",")
	return name, opts
}

// keyField returns the index path of t's ,key field (inline structs
// included), or nil.
func keyField(t reflect.Type) []int { return optField(t, "key") }

// valueField returns the index path of t's ,value field, or nil.
func valueField(t reflect.Type) []int { return optField(t, "value") }

func optField(t reflect.Type, opt string) []int {
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		name, opts := parseTag(t.Field(i))
		switch {
		case name == "" && opts == opt:
			return []int{i}
		case opts == "inline":
			if sub := optField(t.Field(i).Type, opt); sub != nil {
				return append([]int{i}, sub...)
			}
		}
	}
	return nil
}

// setLine sets v's Line field (an int without a yaml name), and those of
// its inline structs, to line.
func setLine(v reflect.Value, line int) {
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts := parseTag(sf)
		switch {
		case opts == "inline":
			setLine(v.Field(i), line)
		case sf.Name == "Line" && sf.Type.Kind() == reflect.Int && (name == "" || name == "-"):
			v.Field(i).SetInt(int64(line))
		}
	}
}

func tagName(n *yaml.Node) string {
	switch n.Tag {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return strings.TrimPrefix(n.Tag, "!!")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "scalar"
}
