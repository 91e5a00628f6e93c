package rewrite

import (
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/match"
	"github.com/tidwall/sjson"
)

// This file holds the reference the tests compare Apply with: the naive way,
// one gjson lookup and one sjson copy of the document per matched value. It
// shares no code with the package.

// splitComponents splits a path at unescaped dots, keeping escapes.
func splitComponents(path string) []string {
	var out []string
	start := 0
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '.':
			out = append(out, path[start:i])
			start = i + 1
		}
	}
	return append(out, path[start:])
}

func isWild(comp string) bool {
	for i := 0; i < len(comp); i++ {
		switch comp[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

// concretePaths expands '#' and wildcard components of path into the paths
// of the values they match in doc, in gjson syntax without '#' or wildcards.
// unaddressable is true when a wildcard matches an empty key, which no
// gjson or sjson path can name.
func concretePaths(doc, path string) (out []string, unaddressable bool) {
	if root := gjson.Parse(doc); !root.IsObject() && !root.IsArray() {
		// gjson.Get scans a scalar document for a '{' or '[' even inside a
		// string; a scalar has no members, so nothing matches.
		return nil, false
	}
	var expand func(prefix string, comps []string)
	expand = func(prefix string, comps []string) {
		get := func() gjson.Result {
			if prefix == "" {
				return gjson.Parse(doc)
			}
			return gjson.Get(doc, prefix)
		}
		join := func(c string) string {
			if prefix == "" {
				return c
			}
			return prefix + "." + c
		}
		if len(comps) == 0 {
			if gjson.Get(doc, prefix).Exists() {
				out = append(out, prefix)
			}
			return
		}
		c := comps[0]
		switch {
		case c == "#":
			v := get()
			if !v.IsArray() {
				return
			}
			for i := range len(v.Array()) {
				expand(join(strconv.Itoa(i)), comps[1:])
			}
		case isWild(c):
			v := get()
			if !v.IsObject() {
				return
			}
			v.ForEach(func(k, _ gjson.Result) bool {
				if k.Str == "" && match.Match("", c) {
					unaddressable = true
				}
				if k.Str != "" && match.Match(k.Str, c) {
					expand(join(escapeAll(k.Str)), comps[1:])
				}
				return true
			})
		default:
			// Re-escape so that sjson, whose path syntax differs from
			// gjson's in details (a leading ':'), reads the same key.
			expand(join(escapeAll(unescape(c))), comps[1:])
		}
	}
	expand("", splitComponents(path))
	return out, unaddressable
}

// referenceApply replaces every match of paths in doc with repl's output the
// naive way. ok is false when sjson refuses a path (the fuzz test then has
// nothing to compare with).
func referenceApply(doc []byte, paths []string, repl func(i int, raw []byte) []byte) (out []byte, ok bool) {
	type set struct {
		path string
		raw  []byte
	}
	var sets []set
	for i, p := range paths {
		concrete, unaddressable := concretePaths(string(doc), p)
		if unaddressable {
			return nil, false
		}
		for _, c := range concrete {
			r := gjson.GetBytes(doc, c)
			sets = append(sets, set{c, repl(i, []byte(r.Raw))})
		}
	}
	out = append([]byte(nil), doc...)
	for _, s := range sets {
		var err error
		out, err = sjson.SetRawBytes(out, s.path, s.raw)
		if err != nil {
			return nil, false
		}
	}
	return out, true
}

// wrapValue is the replacing fn used in differential tests: it records the
// path index and the raw value, so a wrong span or index shows in the output.
func wrapValue(out []byte, i int, raw []byte) ([]byte, error) {
	out = append(out, `{"p":`...)
	out = strconv.AppendInt(out, int64(i), 10)
	out = append(out, `,"v":`...)
	out = append(out, raw...)
	return append(out, '}'), nil
}

func wrapRef(i int, raw []byte) []byte {
	out, _ := wrapValue(nil, i, raw)
	return out
}

func identity(out []byte, _ int, raw []byte) ([]byte, error) { return append(out, raw...), nil }

// hasDuplicateKeys reports whether any object in doc repeats a key; there
// rewrite deliberately differs from gjson (every copy is matched).
func hasDuplicateKeys(v gjson.Result) bool {
	dup := false
	if v.IsObject() {
		seen := map[string]bool{}
		v.ForEach(func(k, val gjson.Result) bool {
			if seen[k.Str] || hasDuplicateKeys(val) {
				dup = true
				return false
			}
			seen[k.Str] = true
			return true
		})
	} else if v.IsArray() {
		v.ForEach(func(_, val gjson.Result) bool {
			dup = hasDuplicateKeys(val)
			return !dup
		})
	}
	return dup
}

// escapeAll escapes every byte that is not a letter or digit, so that both
// gjson and sjson read the key literally (gjson.Escape leaves ':' alone,
// which sjson reads as "force an object key").
func escapeAll(key string) string {
	var b []byte
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80) {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(b)
}

func unescape(comp string) string {
	var b []byte
	for i := 0; i < len(comp); i++ {
		if comp[i] == '\\' && i+1 < len(comp) {
			i++
		}
		b = append(b, comp[i])
	}
	return string(b)
}
