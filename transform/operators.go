package transform

import (
	"strings"

	"github.com/tidwall/gjson"
)

// Query documents (MongoDB, CouchDB Mango, and the filter languages modelled
// on them) put an operator object where a value would be:
//
//	{"selector":{"rrn":{"$eq":"900101-1234567"}}}
//	{"rrn":{"$in":["900101-1234567","850505-2345678"]}}
//
// For a class with Operators set (fieldmap.Class.Operators), a value that
// is an object whose member names all start with "$" is an operator object:
// rather than sealing it whole (which matches nothing), each operand is
// sealed as a value of the class: a scalar operand, every element of an
// array operand, and the operands of a nested operator object ($not,
// $elemMatch-style nesting). Only equality ($eq, $ne, $in, $nin, $all)
// means anything on sealed values, and only for a deterministic class;
// range, regular-expression and text operators get sealed operands too, so
// no plaintext reaches the store, but they will not match. Operands that
// carry no value of the class are kept: $exists with a boolean, $size with
// a number, $type with a number or a JSON type name.

// isOperatorObject reports whether raw (a valid JSON object) has at least
// one member and every member name starts with "$" (after unescaping).
func isOperatorObject(raw []byte) bool {
	n := 0
	ok := true
	gjson.ParseBytes(raw).ForEach(func(k, _ gjson.Result) bool {
		n++
		ok = strings.HasPrefix(k.Str, "$")
		return ok
	})
	return ok && n > 0
}

// typeNames are $type operands that name a type, not a value.
var typeNames = map[string]bool{
	"null": true, "boolean": true, "bool": true, "number": true, "string": true, "array": true, "object": true,
	"int": true, "long": true, "double": true, "decimal": true, "date": true, "objectId": true,
}

// keepsOperand reports whether an operand of op holds no value of the
// class and is kept as it is.
func keepsOperand(op string, v gjson.Result) bool {
	switch op {
	case "$exists":
		return v.Type == gjson.True || v.Type == gjson.False
	case "$size":
		return v.Type == gjson.Number
	case "$type":
		return v.Type == gjson.Number || v.Type == gjson.String && typeNames[v.Str]
	}
	return false
}

// sealOperators appends the operator object raw with its operands sealed
// for field i. Member names are copied as they were written.
func (t *Transform) sealOperators(out []byte, i int, raw []byte) ([]byte, error) {
	var err error
	out = append(out, '{')
	first := true
	gjson.ParseBytes(raw).ForEach(func(k, v gjson.Result) bool {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, k.Raw...)
		out = append(out, ':')
		out, err = t.sealOperand(out, i, k.Str, v)
		return err == nil
	})
	if err != nil {
		return out, err
	}
	return append(out, '}'), nil
}

func (t *Transform) sealOperand(out []byte, i int, op string, v gjson.Result) ([]byte, error) {
	raw := []byte(v.Raw)
	switch {
	case keepsOperand(op, v):
		return append(out, raw...), nil
	case v.IsObject() && isOperatorObject(raw):
		return t.sealOperators(out, i, raw)
	case v.IsArray():
		var err error
		out = append(out, '[')
		first := true
		v.ForEach(func(_, e gjson.Result) bool {
			if !first {
				out = append(out, ',')
			}
			first = false
			if e.IsObject() && isOperatorObject([]byte(e.Raw)) {
				out, err = t.sealOperators(out, i, []byte(e.Raw))
			} else {
				out, err = t.sealPlain(out, i, []byte(e.Raw))
			}
			return err == nil
		})
		if err != nil {
			return out, err
		}
		return append(out, ']'), nil
	}
	return t.sealPlain(out, i, raw)
}
