// Package sidecartest is the one harness for end-to-end tests of the
// fieldseal binary: it starts the built binary on the local key provider in
// front of an upstream, sends requests to it, reads its metrics and audit
// trail, and provides recording upstreams ("stores") that behave like the
// application frameworks fieldseal must agree with.
//
// The promise under test is that plaintext PII never reaches the store, so
// a Store records every byte it received (method, raw path, headers, body,
// and what it decoded and kept) and tests assert on that record, not only on
// fieldseal's answer.
//
// Use:
//
//	var bin string
//	func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithBinary(m, &bin)) }
//
//	store := sidecartest.NewStore(t, sidecartest.GoJSON)
//	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: fieldMap})
//	status, body := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"EMAIL":"a@x"}`})
//	store.MustNotHold(t, "a@x")
//
// What else lives here, so that each exists once:
//   - New, Serve, Launch and Stop for a test that sets keys up itself, races
//     start-up or restarts the sidecar; Config.Keys for another provider.
//   - Families (Scrape, Gather, Value): the one way tests read metrics,
//     from a /metrics endpoint or a registry.
//   - StartJSONServer: the real json-server from npm as the application.
//   - RunWithBinary, every end-to-end TestMain's build of cmd/fieldseal
//     (RunWithAWSEnv for tests that talk to the AWS emulators), and DoWant,
//     a request whose answer must have one status.
//   - The field-map fixtures (MaskedCustomers and CustomersWithID,
//     AddressCustomers, UnitFieldMap), the benchmarks' BenchDoc, and KeyID,
//     which reads a sealed value's key version.
//   - LocalRing (a master key and a ring file for unit tests) and
//     CopyTruncate (logrotate's copytruncate, for audit trail tests).
//   - Issuer: a token issuer (JWKS endpoint, signed access tokens, and the
//     claims and key to build tokens that must fail), and AuthYAML, the
//     auth section that trusts it or a Cognito pool.
//   - EachMember, which walks every member of a decoded document, for
//     checks that a class is sealed at any depth.
//   - NoPlaintext, the check of a test's own recording upstream that no
//     body it received holds a plaintext; GetOK, a health GET over TLS.
//   - MasterKey and LookupProbe for the key providers' tests, and
//     DamagedBackups and RefusesDamagedBackups, the one table of damaged
//     backup files both providers must refuse.
//   - Golden, the one golden-file check (-update rewrites the file);
//     WantFileProblems, the check that a file's problems are reported with
//     their lines; WantDistinctRequestIDs, the check of a request id
//     generator.
//
// It is a test-support package: its functions take a testing.TB and fail
// the test rather than return errors.
package sidecartest
