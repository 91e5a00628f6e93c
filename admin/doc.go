// Package admin is the sidecar's admin HTTP handler, served on its own
// listener (admin_listen), never on the proxy's port:
//
//   - GET /healthz: 200 while the process runs.
//   - GET /readyz: 200 once a key ring is loaded, 503 before; a JSON
//     ReadyReport either way, with the key cache's detail (revision, primary
//     version, ring age, last error, consecutive failures) and never key
//     material. A sidecar without keys serves no protected route, so it is
//     kept out of a Service until it has them.
//   - GET /metrics: the Prometheus registry the process registered its
//     collectors in (Options.Gatherer).
//   - /debug/pprof/: Go's runtime profiles, only with Options.Pprof.
//
// The keys and their status are read through small interfaces that
// *keycache.Cache implements, so the handler can be tested with any ring.
package admin
