package workload

import (
	"fmt"
	"strings"
)

// Paths of the benchmark requests. Those under /sealed/ are protected by
// FieldsealConfig's routes, those under /plain/ by none; the upstream matches
// on the path's tail, so both serve the same documents.
const (
	PathSealedPost = "/sealed/customers"   // POST: seal 5 fields in, open 5 in the echo
	PathSealedGet  = "/sealed/customers/1" // GET: open 5 fields of the sealed customer
	PathSealedList = "/sealed/customers"   // GET: open 2 fields in each of 100 elements
	PathPlainPost  = "/plain/customers"    // no route: fieldseal passes it through
	PathPlainGet   = "/plain/customers/1"

	PathSealedLargePost = "/sealed/large"   // POST the Large document: seal 5 fields in, open 5 in the echo
	PathSealedLargeGet  = "/sealed/large/1" // GET the Large document: open 5 fields
)

// MasterKeyEnv is the environment variable FieldsealConfig names for the
// local provider's master key.
const MasterKeyEnv = "FIELDSEAL_MASTER_KEY"

// FieldsealConfig renders the fieldseal config the benchmark runs: the local
// key provider (ring file, master key in MasterKeyEnv), one class per
// protected field, and these routes:
//
//	POST PathSealedPost          seal CustomerFields in the request, open them in the echo
//	GET  /sealed/customers/{id}  open CustomerFields
//	GET  PathSealedList          open ListFields in every element
//	POST PathSealedLargePost     seal CustomerFields of the Large document, open them in the echo
//	GET  /sealed/large/{id}      open CustomerFields of the Large document
//	POST /seed/customer, /seed/list, /seed/large   seal the fixtures once at set-up
//
// Paths under /plain/ match no route, so fieldseal passes them through.
// Protected bodies may be up to MaxBodyBytes. Logging is at info level, as
// in production.
func FieldsealConfig(listen, admin, upstream, ringFile string) []byte {
	return FieldsealConfigWith(listen, admin, upstream, ringFile, ConfigOptions{})
}

// ConfigOptions are FieldsealConfigWith's optional parts.
type ConfigOptions struct {
	// AuthIssuer, when not empty, turns caller authentication on: bearer
	// JWTs (RS256) from this issuer, whose JWKS is at AuthIssuer +
	// "/.well-known/jwks.json", with client_id AuthClientID, which the
	// policy lets decrypt and write every class. Requests without a token
	// are refused.
	AuthIssuer, AuthClientID string
}

// FieldsealConfigWith is FieldsealConfig with the optional parts in o.
func FieldsealConfigWith(listen, admin, upstream, ringFile string, o ConfigOptions) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\nupstream: http://%s\nadmin_listen: %s\n", listen, upstream, admin)
	fmt.Fprintf(&b, "limits:\n  max_body_bytes: %d\n", MaxBodyBytes)
	if o.AuthIssuer != "" {
		fmt.Fprintf(&b, "auth:\n  issuer: %s\n  client_ids: [%s]\n  token_use: access\n", o.AuthIssuer, o.AuthClientID)
		fmt.Fprintf(&b, "policies:\n  callers:\n    - id: bench\n      match: {client_ids: [%s]}\n      actions: {\"*\": decrypt}\n      write: all\n", o.AuthClientID)
	}
	fmt.Fprintf(&b, "keys:\n  provider: local\n  refresh_interval: 1m\n  local:\n    ring_file: %s\n    master_key_env: %s\n", ringFile, MasterKeyEnv)
	b.WriteString("log:\n  level: info\n  format: json\nclasses:\n")
	for _, f := range CustomerFields() {
		fmt.Fprintf(&b, "  %s: { mode: random }\n", f.Class)
	}
	b.WriteString("routes:\n")
	route := func(name, method, path, side string, fields []Field, alsoResponse bool) {
		fmt.Fprintf(&b, "  - name: %s\n    methods: [%s]\n    paths: [%q]\n", name, method, path)
		sides := []string{side}
		if alsoResponse {
			sides = append(sides, "response")
		}
		for _, s := range sides {
			fmt.Fprintf(&b, "    %s:\n", s)
			for _, f := range fields {
				fmt.Fprintf(&b, "      - { path: %q, class: %s }\n", f.Path, f.Class)
			}
		}
	}
	route("bench-post", "POST", PathSealedPost, "request", CustomerFields(), true)
	route("bench-get", "GET", "/sealed/customers/{id}", "response", CustomerFields(), false)
	route("bench-list", "GET", PathSealedList, "response", ListFields(), false)
	route("bench-seed-customer", "POST", "/seed/"+FixtureCustomer, "request", CustomerFields(), false)
	route("bench-seed-list", "POST", "/seed/"+FixtureList, "request", ListFields(), false)
	route("bench-large-post", "POST", PathSealedLargePost, "request", CustomerFields(), true)
	route("bench-large-get", "GET", "/sealed/large/{id}", "response", CustomerFields(), false)
	route("bench-seed-large", "POST", "/seed/"+FixtureLarge, "request", CustomerFields(), false)
	return []byte(b.String())
}
