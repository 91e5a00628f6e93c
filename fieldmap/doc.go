// Package fieldmap compiles the field map of a configuration (field classes
// and protected routes) into a matcher used on every request.
//
// Compile runs once at start-up or reload and reports every problem with its
// YAML line: unknown classes, paths rewrite.Compile refuses, bad path
// patterns, duplicate route names and routes that overlap for the same
// method and path. A compiled Map is immutable; the proxy swaps maps with an
// atomic.Pointer, so Match needs no lock. Match uses no regular expression
// and does not allocate.
//
// Path patterns are literal segments, {name} for exactly one segment, and a
// trailing /* for the pattern's prefix and everything below it. Matching is
// deliberately generous, so a variation of a protected path cannot slip past
// unsealed (fail closed): a trailing slash and repeated slashes are ignored,
// and literal segments compare ASCII-case-insensitively, since common
// application frameworks (Express, behind json-server) route that way.
// Match expects the decoded URL path (http.Request.URL.Path); the proxy must
// refuse or clean paths with dot segments before matching.
package fieldmap
