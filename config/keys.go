package config

import (
	"fmt"
	"strings"
	"time"
)

// Key is the dotted name of a configuration key from the document root.
// "[]" stands for every entry of a list, "<name>" for a map key chosen by the
// user and "<side>" for request or response.
type Key string

// Every configuration key, declared once. The doc comment of each constant
// must read "KeyX is " followed by its meaning in the reference table (a test
// checks it), so docs/config.md, generated from Reference, stays in step.
const (
	// KeyListen is the host:port the proxy accepts client traffic on.
	KeyListen Key = "listen"
	// KeyUpstream is the http or https URL of the application fieldseal forwards to.
	KeyUpstream Key = "upstream"
	// KeyAdminListen is the host:port of the admin server (/healthz, /readyz, /metrics); empty disables it.
	KeyAdminListen Key = "admin_listen"
	// KeyAdminPprof is whether the admin server also serves Go's runtime profiles under /debug/pprof/ (CPU, heap, goroutines, execution trace); off by default, as a profile costs CPU while it runs and the admin port may be reachable from the cluster.
	KeyAdminPprof Key = "admin_pprof"
	// KeyTLS is the section that serves the proxy listener over TLS, which also enables HTTP/2 for clients; without it the listener speaks plain HTTP/1.1.
	KeyTLS Key = "tls"
	// KeyTLSCertFile is the PEM certificate (chain) file of the proxy listener; the files are read at start.
	KeyTLSCertFile Key = "tls.cert_file"
	// KeyTLSKeyFile is the PEM private key file of the proxy listener.
	KeyTLSKeyFile Key = "tls.key_file"
	// KeyOnOpenError is what to do with a response value that cannot be opened: "error" answers 502, "sealed" leaves the value sealed.
	KeyOnOpenError Key = "on_open_error"

	// KeyLimits is the section of size limits and timeouts.
	KeyLimits Key = "limits"
	// KeyMaxBodyBytes is the largest body accepted on a protected route, in bytes ("1MiB" style allowed); larger bodies get 413.
	KeyMaxBodyBytes Key = "limits.max_body_bytes"
	// KeyUpstreamTimeout is how long to wait for the upstream's response headers.
	KeyUpstreamTimeout Key = "limits.upstream_timeout"
	// KeyReadHeaderTimeout is how long a client may take to send request headers.
	KeyReadHeaderTimeout Key = "limits.read_header_timeout"
	// KeyIdleTimeout is how long an idle keep-alive connection is kept, on both sides.
	KeyIdleTimeout Key = "limits.idle_timeout"
	// KeyMaxIdleConnsPerHost is the number of idle upstream connections kept for reuse.
	KeyMaxIdleConnsPerHost Key = "limits.max_idle_conns_per_host"
	// KeyShutdownTimeout is how long shutdown waits for in-flight requests to finish.
	KeyShutdownTimeout Key = "limits.shutdown_timeout"

	// KeyKeys is the section that says where data keys come from.
	KeyKeys Key = "keys"
	// KeyKeysProvider is the key provider: "local" (key-ring file and master key) or "aws" (KMS and Secrets Manager).
	KeyKeysProvider Key = "keys.provider"
	// KeyKeysRefreshInterval is how often the key ring is reloaded (with jitter) to pick up rotations.
	KeyKeysRefreshInterval Key = "keys.refresh_interval"
	// KeyKeysLocal is the section of the local provider.
	KeyKeysLocal Key = "keys.local"
	// KeyLocalRingFile is the path of the key-ring file of the local provider.
	KeyLocalRingFile Key = "keys.local.ring_file"
	// KeyLocalMasterKeyFile is the path of a file holding the base64 master key; it wins over master_key_env when set.
	KeyLocalMasterKeyFile Key = "keys.local.master_key_file"
	// KeyLocalMasterKeyEnv is the environment variable holding the base64 master key.
	KeyLocalMasterKeyEnv Key = "keys.local.master_key_env"

	// KeyKeysAWS is the section of the aws provider; credentials always come from the standard AWS SDK chain.
	KeyKeysAWS Key = "keys.aws"
	// KeyAWSRegion is the region of the KMS key and the secret; empty uses the SDK chain (AWS_REGION, shared config).
	KeyAWSRegion Key = "keys.aws.region"
	// KeyAWSKMSKeyID is the CMK (key id, key ARN, alias or alias ARN) that keys init and keys rotate wrap data keys with.
	KeyAWSKMSKeyID Key = "keys.aws.kms_key_id"
	// KeyAWSSecretID is the Secrets Manager secret (name or ARN) holding the key ring; required with provider aws.
	KeyAWSSecretID Key = "keys.aws.secret_id"
	// KeyAWSEndpoint is an endpoint URL for both KMS and Secrets Manager (emulators, VPC endpoints); empty uses the SDK default.
	KeyAWSEndpoint Key = "keys.aws.endpoint"
	// KeyAWSKMSEndpoint is an endpoint URL for KMS only; it wins over endpoint.
	KeyAWSKMSEndpoint Key = "keys.aws.kms_endpoint"
	// KeyAWSSecretsManagerEndpoint is an endpoint URL for Secrets Manager only; it wins over endpoint.
	KeyAWSSecretsManagerEndpoint Key = "keys.aws.secretsmanager_endpoint"
	// KeyAWSCallTimeout is the bound on each AWS API call, retries included.
	KeyAWSCallTimeout Key = "keys.aws.call_timeout"
	// KeyAWSMaxAttempts is the number of SDK attempts per AWS call, the first try included.
	KeyAWSMaxAttempts Key = "keys.aws.max_attempts"
	// KeyAWSCMKCheckInterval is how often serve asks KMS whether the CMK rotated; 0s disables the check.
	KeyAWSCMKCheckInterval Key = "keys.aws.cmk_check_interval"

	// KeyLog is the section of logging settings.
	KeyLog Key = "log"
	// KeyLogLevel is the lowest level logged: debug, info, warn or error.
	KeyLogLevel Key = "log.level"
	// KeyLogFormat is the log encoding: "json" for machines or "console" for people.
	KeyLogFormat Key = "log.format"

	// KeyClasses is the map of field classes by name; a class name is bound into every sealed value of the class.
	KeyClasses Key = "classes"
	// KeyClassMode is the class's encryption mode: "random" or "deterministic" (equal plaintexts give equal ciphertexts, which leaks equality, for lookups).
	KeyClassMode Key = "classes.<name>.mode"
	// KeyClassMask is how the class is shown to callers whose action is mask: a format (email, phone, name, card, kr_rrn, full) or {format: custom, keep_first, keep_last, char}; see docs/auth.md.
	KeyClassMask Key = "classes.<name>.mask"

	// KeyRoutes is the list of protected routes; requests matching none pass through untouched.
	KeyRoutes Key = "routes"
	// KeyRouteName is the route's unique name, used in logs, metrics and audit events.
	KeyRouteName Key = "routes[].name"
	// KeyRouteMethods is the list of HTTP methods the route applies to.
	KeyRouteMethods Key = "routes[].methods"
	// KeyRoutePaths is the list of URL path patterns: literal segments, {name} for one segment, a trailing /* for everything below.
	KeyRoutePaths Key = "routes[].paths"
	// KeyRouteRequest is the list of fields sealed in request bodies.
	KeyRouteRequest Key = "routes[].request"
	// KeyRouteResponse is the list of fields opened in response bodies.
	KeyRouteResponse Key = "routes[].response"
	// KeyRouteContext is the section that binds sealed values to a request context.
	KeyRouteContext Key = "routes[].context"
	// KeyRouteContextHeader is the request header whose value is bound into every sealed value (a missing header on a sealing route is refused).
	KeyRouteContextHeader Key = "routes[].context.header"
	// KeyFieldPath is the gjson path of the field in the body, e.g. email, address.street, #.email.
	KeyFieldPath Key = "routes[].<side>[].path"
	// KeyFieldClass is the name of the field's class, one of the keys of classes.
	KeyFieldClass Key = "routes[].<side>[].class"

	// KeyAuth is the section that verifies callers' bearer JWTs (Amazon Cognito or any OIDC issuer); without it every caller may write and decrypt. See docs/auth.md.
	KeyAuth Key = "auth"
	// KeyPolicies is the section that maps callers to an action per class (decrypt, mask, sealed, deny) and write rights; it needs auth. See docs/auth.md.
	KeyPolicies Key = "policies"
	// KeyAudit is the section of the hash-chained audit trail (sink stdout or file); without it no audit trail is written. See docs/auth.md.
	KeyAudit Key = "audit"
)

// keyDoc is one row of the reference table.
type keyDoc struct {
	key  Key
	typ  string
	def  func(c *Config) string // nil: no default
	doc  string
	name string // Go name of the constant, checked by tests
}

// keyDocs returns the reference rows in document order. Defaults are read
// from Defaults, so they are declared once.
func keyDocs() []keyDoc {
	str := func(f func(c *Config) string) func(c *Config) string { return f }
	dur := func(f func(c *Config) time.Duration) func(c *Config) string {
		return func(c *Config) string { return formatDuration(f(c)) }
	}
	return []keyDoc{
		{KeyListen, "host:port", str(func(c *Config) string { return c.Listen }), "the host:port the proxy accepts client traffic on.", "KeyListen"},
		{KeyUpstream, "URL", nil, "the http or https URL of the application fieldseal forwards to.", "KeyUpstream"},
		{KeyAdminListen, "host:port", str(func(c *Config) string { return c.AdminListen }), "the host:port of the admin server (/healthz, /readyz, /metrics); empty disables it.", "KeyAdminListen"},
		{KeyAdminPprof, "boolean", str(func(c *Config) string { return fmt.Sprint(c.AdminPprof) }), "whether the admin server also serves Go's runtime profiles under /debug/pprof/ (CPU, heap, goroutines, execution trace); off by default, as a profile costs CPU while it runs and the admin port may be reachable from the cluster.", "KeyAdminPprof"},
		{KeyTLS, "section", nil, "the section that serves the proxy listener over TLS, which also enables HTTP/2 for clients; without it the listener speaks plain HTTP/1.1.", "KeyTLS"},
		{KeyTLSCertFile, "path", nil, "the PEM certificate (chain) file of the proxy listener; the files are read at start.", "KeyTLSCertFile"},
		{KeyTLSKeyFile, "path", nil, "the PEM private key file of the proxy listener.", "KeyTLSKeyFile"},
		{KeyOnOpenError, "error | sealed", str(func(c *Config) string { return string(c.OnOpenError) }), `what to do with a response value that cannot be opened: "error" answers 502, "sealed" leaves the value sealed.`, "KeyOnOpenError"},
		{KeyLimits, "section", nil, "the section of size limits and timeouts.", "KeyLimits"},
		{KeyMaxBodyBytes, "size", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxBodyBytes) }), `the largest body accepted on a protected route, in bytes ("1MiB" style allowed); larger bodies get 413.`, "KeyMaxBodyBytes"},
		{KeyUpstreamTimeout, "duration", dur(func(c *Config) time.Duration { return c.Limits.UpstreamTimeout }), "how long to wait for the upstream's response headers.", "KeyUpstreamTimeout"},
		{KeyReadHeaderTimeout, "duration", dur(func(c *Config) time.Duration { return c.Limits.ReadHeaderTimeout }), "how long a client may take to send request headers.", "KeyReadHeaderTimeout"},
		{KeyIdleTimeout, "duration", dur(func(c *Config) time.Duration { return c.Limits.IdleTimeout }), "how long an idle keep-alive connection is kept, on both sides.", "KeyIdleTimeout"},
		{KeyMaxIdleConnsPerHost, "integer", str(func(c *Config) string { return fmt.Sprint(c.Limits.MaxIdleConnsPerHost) }), "the number of idle upstream connections kept for reuse.", "KeyMaxIdleConnsPerHost"},
		{KeyShutdownTimeout, "duration", dur(func(c *Config) time.Duration { return c.Limits.ShutdownTimeout }), "how long shutdown waits for in-flight requests to finish.", "KeyShutdownTimeout"},
		{KeyKeys, "section", nil, "the section that says where data keys come from.", "KeyKeys"},
		{KeyKeysProvider, "local | aws", str(func(c *Config) string { return string(c.Keys.Provider) }), `the key provider: "local" (key-ring file and master key) or "aws" (KMS and Secrets Manager).`, "KeyKeysProvider"},
		{KeyKeysRefreshInterval, "duration", dur(func(c *Config) time.Duration { return c.Keys.RefreshInterval }), "how often the key ring is reloaded (with jitter) to pick up rotations.", "KeyKeysRefreshInterval"},
		{KeyKeysLocal, "section", nil, "the section of the local provider.", "KeyKeysLocal"},
		{KeyLocalRingFile, "path", str(func(c *Config) string { return c.Keys.Local.RingFile }), "the path of the key-ring file of the local provider.", "KeyLocalRingFile"},
		{KeyLocalMasterKeyFile, "path", str(func(c *Config) string { return c.Keys.Local.MasterKeyFile }), "the path of a file holding the base64 master key; it wins over master_key_env when set.", "KeyLocalMasterKeyFile"},
		{KeyLocalMasterKeyEnv, "name", str(func(c *Config) string { return c.Keys.Local.MasterKeyEnv }), "the environment variable holding the base64 master key.", "KeyLocalMasterKeyEnv"},
		{KeyKeysAWS, "section", nil, "the section of the aws provider; credentials always come from the standard AWS SDK chain.", "KeyKeysAWS"},
		{KeyAWSRegion, "string", str(func(c *Config) string { return c.Keys.AWS.Region }), "the region of the KMS key and the secret; empty uses the SDK chain (AWS_REGION, shared config).", "KeyAWSRegion"},
		{KeyAWSKMSKeyID, "string", str(func(c *Config) string { return c.Keys.AWS.KMSKeyID }), "the CMK (key id, key ARN, alias or alias ARN) that keys init and keys rotate wrap data keys with.", "KeyAWSKMSKeyID"},
		{KeyAWSSecretID, "string", nil, "the Secrets Manager secret (name or ARN) holding the key ring; required with provider aws.", "KeyAWSSecretID"},
		{KeyAWSEndpoint, "URL", str(func(c *Config) string { return c.Keys.AWS.Endpoint }), "an endpoint URL for both KMS and Secrets Manager (emulators, VPC endpoints); empty uses the SDK default.", "KeyAWSEndpoint"},
		{KeyAWSKMSEndpoint, "URL", str(func(c *Config) string { return c.Keys.AWS.KMSEndpoint }), "an endpoint URL for KMS only; it wins over endpoint.", "KeyAWSKMSEndpoint"},
		{KeyAWSSecretsManagerEndpoint, "URL", str(func(c *Config) string { return c.Keys.AWS.SecretsManagerEndpoint }), "an endpoint URL for Secrets Manager only; it wins over endpoint.", "KeyAWSSecretsManagerEndpoint"},
		{KeyAWSCallTimeout, "duration", dur(func(c *Config) time.Duration { return c.Keys.AWS.CallTimeout }), "the bound on each AWS API call, retries included.", "KeyAWSCallTimeout"},
		{KeyAWSMaxAttempts, "integer", str(func(c *Config) string { return fmt.Sprint(c.Keys.AWS.MaxAttempts) }), "the number of SDK attempts per AWS call, the first try included.", "KeyAWSMaxAttempts"},
		{KeyAWSCMKCheckInterval, "duration", dur(func(c *Config) time.Duration { return c.Keys.AWS.CMKCheckInterval }), "how often serve asks KMS whether the CMK rotated; 0s disables the check.", "KeyAWSCMKCheckInterval"},
		{KeyLog, "section", nil, "the section of logging settings.", "KeyLog"},
		{KeyLogLevel, "debug | info | warn | error", str(func(c *Config) string { return c.Log.Level }), "the lowest level logged: debug, info, warn or error.", "KeyLogLevel"},
		{KeyLogFormat, "json | console", str(func(c *Config) string { return c.Log.Format }), `the log encoding: "json" for machines or "console" for people.`, "KeyLogFormat"},
		{KeyClasses, "map", nil, "the map of field classes by name; a class name is bound into every sealed value of the class.", "KeyClasses"},
		{KeyClassMode, "random | deterministic", str(func(*Config) string { return string(ModeRandom) }), `the class's encryption mode: "random" or "deterministic" (equal plaintexts give equal ciphertexts, which leaks equality, for lookups).`, "KeyClassMode"},
		{KeyClassMask, "format or mapping", nil, "how the class is shown to callers whose action is mask: a format (email, phone, name, card, kr_rrn, full) or {format: custom, keep_first, keep_last, char}; see docs/auth.md.", "KeyClassMask"},
		{KeyRoutes, "list", nil, "the list of protected routes; requests matching none pass through untouched.", "KeyRoutes"},
		{KeyRouteName, "string", nil, "the route's unique name, used in logs, metrics and audit events.", "KeyRouteName"},
		{KeyRouteMethods, "list of methods", nil, "the list of HTTP methods the route applies to.", "KeyRouteMethods"},
		{KeyRoutePaths, "list of patterns", nil, "the list of URL path patterns: literal segments, {name} for one segment, a trailing /* for everything below.", "KeyRoutePaths"},
		{KeyRouteRequest, "list of fields", nil, "the list of fields sealed in request bodies.", "KeyRouteRequest"},
		{KeyRouteResponse, "list of fields", nil, "the list of fields opened in response bodies.", "KeyRouteResponse"},
		{KeyRouteContext, "section", nil, "the section that binds sealed values to a request context.", "KeyRouteContext"},
		{KeyRouteContextHeader, "header name", nil, "the request header whose value is bound into every sealed value (a missing header on a sealing route is refused).", "KeyRouteContextHeader"},
		{KeyFieldPath, "gjson path", nil, "the gjson path of the field in the body, e.g. email, address.street, #.email.", "KeyFieldPath"},
		{KeyFieldClass, "class name", nil, "the name of the field's class, one of the keys of classes.", "KeyFieldClass"},
		{KeyAuth, "section", nil, "the section that verifies callers' bearer JWTs (Amazon Cognito or any OIDC issuer); without it every caller may write and decrypt. See docs/auth.md.", "KeyAuth"},
		{KeyPolicies, "section", nil, "the section that maps callers to an action per class (decrypt, mask, sealed, deny) and write rights; it needs auth. See docs/auth.md.", "KeyPolicies"},
		{KeyAudit, "section", nil, "the section of the hash-chained audit trail (sink stdout or file); without it no audit trail is written. See docs/auth.md.", "KeyAudit"},
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
	b.WriteString("`[]` stands for every entry of a list, `<name>` for a class name, `<side>` for `request` or `response`.\n\n")
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
