// Package rewrite replaces JSON values at gjson-style paths in a single pass.
//
// A Plan is compiled once from a list of paths and is safe for concurrent use.
// Apply reads the document once: one pass validates it (the JSON grammar as
// gjson.ValidBytes reads it, with strings that must be valid UTF-8 as RFC 8259
// section 8.1 requires: ErrInvalidJSON otherwise), bounds its nesting depth and collects the byte
// span of every matched value; then the document is copied into dst exactly
// once, asking a callback for the replacement of each matched value. The
// document is never re-encoded: bytes outside matched values come out
// exactly as they went in.
//
// Path syntax is the subset of gjson syntax that names values in place:
//
//	a.b.c                 object keys
//	a.0.b                 array index (a number names an element of an array
//	                      and a key of an object)
//	#.email, a.#.b.#.c    every element of an array, nestable
//	a.*.b, user?          '*' and '?' wildcards inside one key
//	a\.b                  backslash escapes the next character
//
// Queries (#(...)), modifiers (@...), pipes, multipaths ([...], {...}),
// literals (!...) and a trailing '#' (array length) are rejected by Compile,
// because they do not name a value that can be replaced in place. So are
// unescaped brackets, braces and parentheses inside a key ("items[0]",
// "#.email[["): gjson reads them as literal key characters, so such a path
// is a typo that would silently match nothing; a key that really holds one
// is written escaped ("a\[0\]").
//
// Semantics differ from gjson.Get in two deliberate, fail-closed ways: a
// wildcard matches every matching key (gjson returns only the first), and an
// object that repeats a key has every occurrence matched (gjson returns the
// first, while many applications keep the last). A sealing proxy must never
// leave a copy of a protected value behind.
//
// Matched values never overlap: a path that lies inside another path of the
// same plan, or a key that a wildcard or '#' of another path also reaches, is
// a Compile error; overlaps only visible at run time (two wildcards matching
// one key) are reported by Apply as an *OverlapError.
//
// Callbacks that replace a value with text use AppendString (a JSON string
// literal, escaped as encoding/json does minus its HTML escaping) and read a
// matched string's content with StringContent (no copy unless it has
// escapes); the transform package and the proxy's error bodies use them too.
//
// A Plan compiled from a Spec also matches class members: object member
// names matched at any depth (case-insensitively by default, as Go's
// encoding/json and several JVM mappers bind them), strings that carry a
// prefix (sealed values) wherever they are, and with StrictShape refuses a
// path that meets another shape than it implies. Nesting depth is bounded
// as the pass goes: it refuses a document at the first container past
// MaxDepth, so recursion never goes deeper than that.
// ApplyForm and ApplyMultipart replace class members in form bodies
// (application/x-www-form-urlencoded, multipart/form-data), reading nested
// field names (contact[email]), PHP's names (" email", "email\x00x") and
// RFC 2047 encoded part names as frameworks do; a non-file part whose
// Content-Type is JSON is rewritten as a document.
package rewrite
