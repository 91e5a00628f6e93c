package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/proxy"
)

// keyDoc is one row of the reference table: a configuration key and the
// one place its meaning is written. Keys are declared by the yaml tags of
// Config and the types it holds; a test checks that every key has exactly
// one row and every row a key.
type keyDoc struct {
	// key is the dotted path from the document root: "[]" stands for every
	// entry of a list, "<name>" for a map key chosen by the user and
	// "<side>" for request or response.
	key string
	typ string
	def func(c *Config) string // nil: no default
	doc string
}

// keyDocs returns the reference rows in document order. Defaults are read
// from Defaults, so they are declared once.
func keyDocs() []keyDoc {
	str := func(f func(c *Config) string) func(c *Config) string { return f }
	dur := func(f func(c *Config) time.Duration) func(c *Config) string {
		return func(c *Config) string { return formatDuration(f(c)) }
	}
	return []keyDoc{
		{"listen", "host:port", str(func(c *Config) string { return c.Listen }), "the host:port the proxy accepts client traffic on."},
		{"upstream", "URL", nil, "the http or https URL of the application fieldseal forwards to."},
		{"admin_listen", "host:port", str(func(c *Config) string { return c.AdminListen }), "the host:port of the admin server (/healthz, /readyz, /metrics); empty disables it."},
		{"admin_pprof", "boolean", str(func(c *Config) string { return fmt.Sprint(c.AdminPprof) }), "whether the admin server also serves Go's runtime profiles under /debug/pprof/ (CPU, heap, goroutines, execution trace); off by default, as a profile costs CPU while it runs and the admin port may be reachable from the cluster."},
		{"admin_tls", "section", nil, "the section that serves the admin server over TLS (probes and scrapers then use https); without it the admin server speaks plain HTTP. It needs admin_listen."},
		{"admin_tls.cert_file", "path", nil, "the PEM certificate (chain) file of the admin server; the pair is read at start and again every 30s, and a renewed pair (a Secret cert-manager updates) is served without a restart; one that does not load or is not valid now (expired, not yet valid) keeps the previous pair, and one not valid at start stops the listener."},
		{"admin_tls.key_file", "path", nil, "the PEM private key file of the admin server."},
		{"tls", "section", nil, "the section that serves the proxy listener over TLS, which also enables HTTP/2 for clients; without it the listener speaks plain HTTP/1.1."},
		{"tls.cert_file", "path", nil, "the PEM certificate (chain) file of the proxy listener; the pair is read at start and again every 30s, and a renewed pair (a Secret cert-manager updates) is served without a restart; one that does not load or is not valid now (expired, not yet valid) keeps the previous pair, and one not valid at start stops the listener."},
		{"tls.key_file", "path", nil, "the PEM private key file of the proxy listener."},
		{"on_open_error", "error | sealed", str(func(c *Config) string { return string(c.OnOpenError) }), `what to do with a response value that cannot be opened: "error" answers 502, "sealed" leaves the value sealed.`},
		{"limits", "section", nil, "the section of size limits and timeouts."},
		{"limits.max_body_bytes", "size", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxBodyBytes) }), `the largest body accepted on a protected route, in bytes ("1MiB" style allowed); larger bodies get 413. Responses have their own limit, max_response_bytes.`},
		{"limits.max_response_bytes", "size", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxResponseBytes) }), `the largest response body the proxy transforms (opens, masks), after decompression; a larger answer to a read gets 502 response_too_large, and a larger 2xx answer to a write (the application accepted it) is forwarded untransformed: its protected values still sealed to a caller who decrypts every class, with no body to any other caller, marked by the X-Fieldseal-Body header.`},
		{"limits.max_buffered_bytes", "size", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxBufferedBytes) }), "the most bytes all requests together may hold in body buffers at once; past it a request gets 503 (busy) instead of the process running out of memory."},
		{"limits.max_connections", "integer", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxConnections) }), "the most client connections served at once; one more is answered 503 (busy) and closed."},
		{"limits.upstream_timeout", "duration", dur(func(c *Config) time.Duration { return c.Limits.UpstreamTimeout }), "how long to wait for the upstream's response headers."},
		{"limits.body_timeout", "duration", dur(func(c *Config) time.Duration { return c.Limits.BodyTimeout }), "how long reading a body the proxy transforms whole may take: a request body from the client (408) or a response body from the upstream (504). Streamed responses (feeds) have none."},
		{"limits.read_header_timeout", "duration", dur(func(c *Config) time.Duration { return c.Limits.ReadHeaderTimeout }), "how long a client may take to send request headers."},
		{"limits.idle_timeout", "duration", dur(func(c *Config) time.Duration { return c.Limits.IdleTimeout }), "how long an idle keep-alive connection is kept, on both sides."},
		{"limits.max_idle_conns_per_host", "integer", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxIdleConnsPerHost) }), "the number of idle upstream connections kept for reuse."},
		{"limits.shutdown_timeout", "duration", dur(func(c *Config) time.Duration { return c.Limits.ShutdownTimeout }), "how long shutdown waits for in-flight requests to finish."},
		{"keys", "section", nil, "the section that says where data keys come from."},
		{"keys.provider", "local | aws", str(func(c *Config) string { return string(c.Keys.Provider) }), `the key provider: "local" (key-ring file and master key) or "aws" (KMS and Secrets Manager).`},
		{"keys.refresh_interval", "duration", dur(func(c *Config) time.Duration { return c.Keys.RefreshInterval }), "how often the key ring is checked for a rotation (one Secrets Manager call with aws; a load only when it changed), at a random phase per process; a new primary is in use everywhere within this time, values sealed under it open at once through an on-demand refresh. The default keeps 10,000 aws sidecars under $5 a day (README, Fleet cost)."},
		{"keys.max_stale", "duration", dur(func(c *Config) time.Duration { return c.Keys.MaxStale }), "the longest time the key ring is served without a successful refresh; past it protected routes are refused and /readyz fails (0s: no bound); when set, at least three times refresh_interval."},
		{"keys.rotation", "section", nil, "the section of rotation on age and on use by the sidecar; without a bound the ring rotates only by keys rotate (the chart's CronJob runs keys rotate --if-older-than 90d)."},
		{"keys.rotation.max_age", "duration", dur(func(c *Config) time.Duration { return c.Keys.Rotation.MaxAge }), "the age past which the primary key version is due for rotation, e.g. 90d as keys rotate --if-older-than takes it (0s: no bound)."},
		{"keys.rotation.max_seals", "integer", str(func(c *Config) string { return fmt.Sprint(c.Keys.Rotation.MaxSeals) }), "the number of values this process seals under the primary key version past which it is due for rotation (0: no bound); counts are per process, see fieldseal_keys_seals_total."},
		{"keys.rotation.sidecar", "auto | yes | no", str(func(c *Config) string { return string(c.Keys.Rotation.Sidecar) }), `whether the sidecar rotates the ring itself when the primary is due: "auto" does for the local provider when the ring file's directory is writable and not for aws, "yes" does (aws: with the permissions of keys rotate), "no" never; a sidecar that does not sets fieldseal_keys_rotation_due and logs keys_rotation_due. Racing sidecars add one version between them.`},
		{"keys.local", "section", nil, "the section of the local provider."},
		{"keys.local.ring_file", "path", str(func(c *Config) string { return c.Keys.Local.RingFile }), "the path of the key-ring file of the local provider."},
		{"keys.local.master_key_file", "path", str(func(c *Config) string { return c.Keys.Local.MasterKeyFile }), "the path of a file holding the base64 master key; it wins over master_key_env when set."},
		{"keys.local.master_key_env", "name", str(func(c *Config) string { return c.Keys.Local.MasterKeyEnv }), "the environment variable holding the base64 master key."},
		{"keys.aws", "section", nil, "the section of the aws provider; credentials always come from the standard AWS SDK chain."},
		{"keys.aws.region", "string", str(func(c *Config) string { return c.Keys.AWS.Region }), "the region of the KMS key and the secret; empty uses the SDK chain (AWS_REGION, shared config)."},
		{"keys.aws.kms_key_id", "string", str(func(c *Config) string { return c.Keys.AWS.KMSKeyID }), "the CMK (key id, key ARN, alias or alias ARN) that keys init and keys rotate wrap data keys with."},
		{"keys.aws.secret_id", "string", nil, "the Secrets Manager secret (name or ARN) holding the key ring; required with provider aws."},
		{"keys.aws.endpoint", "URL", str(func(c *Config) string { return c.Keys.AWS.Endpoint }), "an endpoint URL for both KMS and Secrets Manager (emulators, VPC endpoints); empty uses the SDK default."},
		{"keys.aws.kms_endpoint", "URL", str(func(c *Config) string { return c.Keys.AWS.KMSEndpoint }), "an endpoint URL for KMS only; it wins over endpoint."},
		{"keys.aws.secretsmanager_endpoint", "URL", str(func(c *Config) string { return c.Keys.AWS.SecretsManagerEndpoint }), "an endpoint URL for Secrets Manager only; it wins over endpoint."},
		{"keys.aws.call_timeout", "duration", dur(func(c *Config) time.Duration { return c.Keys.AWS.CallTimeout }), "the bound on each AWS API call, retries included."},
		{"keys.aws.max_attempts", "integer", str(func(c *Config) string { return fmt.Sprint(c.Keys.AWS.MaxAttempts) }), "the number of SDK attempts per AWS call, the first try included."},
		{"keys.aws.cmk_check_interval", "duration", dur(func(c *Config) time.Duration { return c.Keys.AWS.CMKCheckInterval }), "how often serve asks KMS whether the CMK rotated; 0s disables the check."},
		{"log", "section", nil, "the section of logging settings."},
		{"log.level", "debug | info | warn | error", str(func(c *Config) string { return c.Log.Level }), "the lowest level logged: debug, info, warn or error."},
		{"log.format", "json | console", str(func(c *Config) string { return c.Log.Format }), `the log encoding: "json" for machines or "console" for people.`},
		{"guard", "section", nil, "the section that says how class members are protected on requests no route lists, and who may send sealed values."},
		{"guard.unmatched", "seal | refuse | off", str(func(*Config) string { return string(fieldmap.UnmatchedSeal) }), `what a request that no route lists gets when its body carries a class member: "seal" seals it as a route would, "refuse" answers 422 and forwards nothing, "off" forwards it as it is (logged at start: plaintext then reaches the application).`},
		{"guard.member_case", "insensitive | sensitive", str(func(*Config) string { return string(fieldmap.CaseInsensitive) }), `how member names are compared with class keys: "insensitive" (Unicode case folding, as Go's encoding/json and several JVM mappers bind members) or "sensitive".`},
		{"guard.path_case", "insensitive | sensitive", str(func(*Config) string { return string(fieldmap.CaseInsensitive) }), `how URL paths are compared with route patterns: "insensitive" (as Express routes; the default) or "sensitive", safe only when the application routes case-sensitively too.`},
		{"guard.sealed_writes", "refuse | accept", str(func(*Config) string { return string(fieldmap.SealedWritesRefuse) }), `whether a client without authentication may send values already sealed, to the proxy or the API: "refuse" answers 422 (an item error sealed_value_refused on the API) (a value copied from another record would be opened for whoever reads this one), "accept" keeps a sealed value that opens for its field. Authenticated callers are decided by their policy (write_sealed).`},
		{"classes", "map", nil, "the map of field classes by name; a class name is bound into every sealed value of the class."},
		{"classes.<name>.mode", "random | deterministic", str(func(*Config) string { return string(fieldmap.ModeRandom) }), `the class's encryption mode: "random" or "deterministic" (equal plaintexts give equal ciphertexts, which leaks equality, for lookups). Deterministic values are sealed under the key ring's lookup version, which routine rotations keep; only keys rotate-lookup changes them (see docs/keys.md).`},
		{"classes.<name>.keys", "list of names", nil, "the JSON member names (and form field names) that hold the class; every request body, on every route, method and path, has them sealed wherever they occur, at any depth (see guard)."},
		{"classes.<name>.seal_empty", "boolean", str(func(*Config) string { return "false" }), `whether JSON null and "" are sealed like other values. Off, they pass unsealed both ways: the app's "required" checks still see an empty value (a sealed "" is a non-empty ciphertext that passes them), and the store reveals which records hold no value (never a value). On, every present value is sealed, empty or not.`},
		{"classes.<name>.operators", "boolean", str(func(*Config) string { return "false" }), `whether a request value that is a query operator object (every member name starts with "$": {"$eq": v}, {"$in": [..]}) has its operands sealed (scalars, array elements, nested operator objects) instead of the whole object, so one field maps both records and query documents ({"selector":{"rrn":{"$eq":..}}}). Needs mode deterministic: only equality ($eq, $ne, $in, $nin, $all) can match sealed values; other operators get sealed operands and match nothing; $exists, $size and $type operands are kept.`},
		{"classes.<name>.mask", "format or mapping", nil, "how the class is shown to callers whose action is mask: a format (email, phone, name, card, kr_rrn, full) or {format: custom, keep_first, keep_last, char}; see docs/auth.md."},
		{"routes", "list", nil, "the list of routes: what member names cannot say (explicit paths, a context, per-route settings); a request matching none is still guarded (see guard)."},
		{"routes[].name", "string", nil, "the route's unique name, used in logs, metrics and audit events."},
		{"routes[].methods", "list of methods", nil, "the list of HTTP methods the route applies to."},
		{"routes[].paths", "list of patterns", nil, "the list of URL path patterns: literal segments, {name} for one segment, a trailing /* for everything below. When patterns of two routes match the same request, the most specific wins (a literal segment before {name}, either before /*: /db/_all_docs before /db/{id} before /db/*); two routes whose patterns match exactly the same paths, or overlap with neither within the other (/a/{x}/c and /a/b/{y}), are a config error."},
		{"routes[].request", "list of fields", nil, "the list of fields sealed in request bodies."},
		{"routes[].response", "list of fields", nil, "the list of fields opened in response bodies."},
		{"routes[].response_types", "list of media types", nil, "the list of media types (type/subtype) whose responses are opened as JSON besides application/json and +json types, for applications that serve JSON as text/plain; a body of a listed type that is not JSON is a 502."},
		{"routes[].response_sniff", "boolean", nil, "whether a response of any other (or no) media type is opened when its body is a JSON object or array (read whole, up to limits.max_response_bytes); other bodies, and compressed ones, are forwarded as they came. Off by default: it costs a read of every such body and trusts the body over its declared type."},
		{"routes[].query", "list of parameters", nil, "the list of query parameters sealed before the request is forwarded, so that an equality lookup (GET /customers?email=..) finds the sealed value the application stored and the plaintext reaches neither the application nor its access logs. Names are read as form field names are (email[] and filter[email] stand for email); every other byte of the query is kept."},
		{"routes[].query[].param", "name", nil, "the query parameter's name, compared as class keys are (guard.member_case)."},
		{"routes[].query[].member", "name", nil, "makes the parameter a filter expression (filter=(email='..' && name='..')): every comparison of this member with a quoted literal ('..' or \"..\", a quote inside doubled; a backslash in a literal is refused, as filter languages read it differently) by =, ==, !=, <>, :, eq or ne has the literal sealed; a mention of the member in any other form (another operator, a list, an unquoted value) is refused with 400 invalid_query. Without it the whole value is sealed."},
		{"routes[].query[].class", "class name", nil, "the parameter's class, which must be mode deterministic (a random seal never equals the stored value; anything else is a config error). A caller may look up the class unless its action for it is deny."},
		{"routes[].stream", "ndjson", nil, "set to ndjson for a route whose JSON responses are change feeds with one document per line (CouchDB's feed=continuous): each line is opened as it arrives. Responses typed text/event-stream (each event's data is one document) or NDJSON (application/x-ndjson, application/jsonl, ...) stream on every route. A streamed response has no body-time limit; each record is bounded by limits.max_response_bytes, and a record that cannot be opened cuts the stream."},
		{"routes[].upstream_timeout", "duration", nil, "the route's own limits.upstream_timeout, longer or shorter (a long-poll feed holds its response headers while it waits for a change)."},
		{"routes[].body_timeout", "duration", nil, "the route's own limits.body_timeout."},
		{"routes[].context", "section", nil, "the section that binds sealed values to a request context."},
		{"routes[].context.header", "header name", nil, "the request header whose value is bound into every sealed value (a missing header on a sealing route is refused)."},
		{"routes[].context.path_param", "parameter name", nil, "the path parameter ({name} in every path of the route, such as a record id) whose value is bound into every sealed value, so a value copied into another record does not open there; at most one of header and path_param."},
		{"routes[].context.member", "member name", nil, "a top-level member of the body (a record id, a tenant field) whose value is bound into every value sealed in the request and read from the response document to open it; a request body without it is refused. At most one of header, path_param and member."},
		{"routes[].<side>[].path", "gjson path", nil, "the gjson path of the field in the body, e.g. email, address.street, #.email."},
		{"routes[].<side>[].class", "class name", nil, "the name of the field's class, one of the keys of classes."},
		{"auth", "section", nil, "the section that verifies callers' bearer JWTs (Amazon Cognito or any OIDC issuer); without it every caller may write and decrypt. See docs/auth.md."},
		{"policies", "section", nil, "the section that maps callers to an action per class (decrypt, mask, sealed, deny) and write rights; it needs auth. See docs/auth.md."},
		{"audit", "section", nil, "the section of the hash-chained audit trail (sink stdout or file); without it no audit trail is written. See docs/auth.md."},
		{"errors", "section", nil, "the section that shapes the bodies of errors fieldseal answers itself (4xx/5xx it decides, not the upstream's), for clients that parse their application's error shape; status, code and request id are always kept, and X-Request-ID is always set."},
		{"errors.format", "fieldseal | problem | template", str(func(*Config) string { return proxy.ErrorFormatFieldseal }), `the body shape: "fieldseal" is fieldseal's own (one member, error, holding code, message and request_id); "problem" is RFC 9457 application/problem+json (type about:blank, title, status, detail, and the members code and request_id); "template" renders errors.template.`},
		{"errors.template", "text/template", nil, "the body with format template: a Go text/template over .Status, .Title, .Code, .Message and .RequestID; write values with the json function ({{json .Message}}) so they are escaped. Checked at start by rendering a sample; with a JSON content type the sample must be valid JSON."},
		{"errors.content_type", "media type", str(func(*Config) string { return "application/json; charset=utf-8" }), "the Content-Type of template bodies."},
		{"api", "section", nil, "the section of the encryption API listener (POST /v1/seal, /v1/open, /v1/lookup) for services that call fieldseal directly; without it there is no API listener. See the README and api/openapi.yaml."},
		{"api.listen", "host:port", nil, "the host:port the API listener accepts calls on; required in the api section and distinct from listen and admin_listen."},
		{"api.tls", "section", nil, "the section that serves the API listener over TLS (and HTTP/2); without it the API speaks plain HTTP/1.1."},
		{"api.tls.cert_file", "path", nil, "the PEM certificate (chain) file of the API listener; the pair is read at start and again every 30s, and a renewed pair (a Secret cert-manager updates) is served without a restart; one that does not load or is not valid now (expired, not yet valid) keeps the previous pair, and one not valid at start stops the listener."},
		{"api.tls.key_file", "path", nil, "the PEM private key file of the API listener."},
		{"api.allow_anonymous", "boolean", str(func(*Config) string { return "false" }), "whether API calls without a bearer token are served: as the policies' anonymous caller with auth, with full access without auth; otherwise they get 401. Without auth the api section needs it."},
		{"api.max_items", "integer", str(func(*Config) string { return fmt.Sprint(DefaultAPIMaxItems) }), "the largest number of items one API call may carry; bodies are bounded by limits.max_body_bytes and limits.read_header_timeout as on the proxy."},
	}
}

// Reference returns the markdown table of every configuration key, its type,
// its default and its meaning. docs/config.md is this text.
func Reference() string {
	def := Defaults()
	var b strings.Builder
	b.WriteString("# fieldseal configuration keys\n\n")
	b.WriteString("Generated from `config.Reference()`; do not edit by hand ")
	b.WriteString("(`go test ./config -run TestReferenceDoc -update` regenerates it).\n")
	b.WriteString("`[]` stands for every entry of a list, `<name>` for a class name, `<side>` for `request` or `response`.\n")
	b.WriteString("A `duration` is a Go duration (`30s`, `15m`, `1h30m`) or whole days (`90d`).\n\n")
	b.WriteString("| Key | Type | Default | Meaning |\n| --- | --- | --- | --- |\n")
	for _, k := range keyDocs() {
		d := ""
		if k.def != nil {
			d = "`" + k.def(&def) + "`"
			if d == "``" {
				d = `""`
			}
		}
		meaning := strings.ToUpper(k.doc[:1]) + k.doc[1:]
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.key, strings.ReplaceAll(k.typ, "|", `\|`), d, strings.ReplaceAll(meaning, "|", `\|`))
	}
	return b.String()
}

// formatDuration prints durations the way people write them: 1m, not 1m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
