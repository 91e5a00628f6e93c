// Package workload defines what the load benchmark sends and what its upstream
// answers: a 1 KB customer document with five protected fields, a ~20 KB list
// of 100 customers with two protected fields each, a 1 MB document with the
// customer's five protected fields and a long unprotected history, and the
// upstream app's http.Handler.
//
// The upstream behaves like a small legacy JSON API:
//
//	POST /seed/{customer|list|large}  stores the body as that fixture, echoes it (201)
//	POST anything else          echoes the body back as JSON (201)
//	GET  .../customers/{id}     serves the "customer" fixture (1 KB)
//	GET  .../customers          serves the "list" fixture (~20 KB)
//	GET  .../large/{id}         serves the "large" fixture (1 MB)
//	GET  /healthz               200 once it is serving
//
// A GET with the query QueryGzip whose Accept-Encoding names gzip gets the
// fixture gzip-encoded (compressed once, when the fixture is stored).
//
// Paths are matched by their tail, so /plain/customers/1, /sealed/customers/1
// and /customers/1 hit the same document: each benchmark case sends the same
// request and only the address (direct, plain proxy, fieldseal) differs. The
// harness seeds the fixtures through fieldseal, so the GET cases serve sealed
// values that fieldseal has to open.
package workload
