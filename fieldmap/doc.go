// Package fieldmap compiles a field map (field classes and protected
// routes) into a matcher used on every request, and decides which route
// protects a request.
//
// A Spec is the field map as configured: ClassSpec, RouteSpec, PathSpec and
// FieldSpec carry the line they were written at, and their yaml tags are
// the configuration keys (the config package decodes them; this package
// knows nothing of YAML, keys or HTTP, and depends on rewrite only).
// Compile runs once at start-up or reload and reports every problem as a
// *lineerr.Error with its file and line: unknown classes, paths
// rewrite.Compile refuses, bad path patterns, duplicate route names, and
// routes for the same method whose patterns match the same paths or overlap
// with neither more specific than the other. A compiled Map is
// immutable; the proxy swaps maps with an atomic.Pointer, so lookups need no
// lock, use no regular expression and do not allocate for clean paths.
//
// LookupAll is the one place that decides which routes protect a request:
// it tries every reading of the request an application may apply (every
// method override header line and value, every _method query parameter, an
// upper-cased method, a POST as any route at its path, '\' as '/', dot
// segments resolved). The first route that matches protects the request;
// the proxy seals the request under every other route
// an explicit reading reaches too, since the application may take it under
// any of them, and under the route a POST body's _method names
// (LookupMethod). Match tries one exact reading; of the routes whose
// patterns match it, the most specific wins, as in routers: a pattern whose
// paths are a strict subset of another's (a literal segment where the
// other has {name}, {name} or a literal where the other has a final /*).
//
// Path patterns are literal segments, {name} for exactly one segment, and a
// trailing /* for the pattern's prefix and everything below it. Matching is
// deliberately generous, so a variation of a protected path cannot slip past
// unsealed (fail closed): a trailing slash and repeated slashes are ignored,
// and literal segments compare ASCII-case-insensitively, since common
// application frameworks (Express, behind json-server) route that way.
package fieldmap
