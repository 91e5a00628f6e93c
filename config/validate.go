package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/lineerr"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
)

// validator checks what the decoder cannot: allowed values, values that
// depend on each other, and keys the file left out. Lines point at the key
// when the file has it, else at the enclosing entry or the top level.
type validator struct {
	file  string
	lines *strictyaml.Lines
	errs  []error
}

func (v *validator) errorf(line int, format string, args ...any) {
	v.errs = append(v.errs, &lineerr.Error{File: v.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// at returns the line of the key at path, or the top level's.
func (v *validator) at(path string) int { return v.lines.At(path) }

// has reports whether the file has the key at path.
func (v *validator) has(path string) bool {
	_, ok := v.lines.Line(path)
	return ok
}

// requireList reports a list the file must give at path with at least one
// entry (n is how many it has): missing, at line (the owner's, named label),
// or empty, at its own line. plural and one name the entries in the text.
func (v *validator) requireList(line int, label, path string, n int, plural, one string) {
	switch {
	case !v.has(path):
		v.errorf(line, "%s has no %s", label, plural)
	case n == 0:
		v.errorf(v.at(path), "%s is empty; list at least one %s", path, one)
	}
}

func (v *validator) validate(cfg *Config) {
	v.validateListen("listen", cfg.Listen, false)
	v.validateListen("admin_listen", cfg.AdminListen, true)
	if cfg.AdminListen != "" && cfg.AdminListen == cfg.Listen {
		v.errorf(v.at("admin_listen"), "admin_listen is the same address as listen")
	}
	if cfg.AdminPprof && cfg.AdminListen == "" {
		v.errorf(v.at("admin_pprof"), "admin_pprof needs the admin server, but admin_listen is empty")
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		v.errorf(v.at("tls"), "tls needs both tls.cert_file and tls.key_file")
	}
	if (cfg.AdminTLS.CertFile == "") != (cfg.AdminTLS.KeyFile == "") {
		v.errorf(v.at("admin_tls"), "admin_tls needs both admin_tls.cert_file and admin_tls.key_file")
	}
	if cfg.AdminTLS.Enabled() && cfg.AdminListen == "" {
		v.errorf(v.at("admin_tls"), "admin_tls needs the admin server, but admin_listen is empty")
	}
	v.validateUpstream(cfg.Upstream)
	v.oneOf("on_open_error", string(cfg.OnOpenError), string(OnOpenErrorFail), string(OnOpenErrorSealed))
	v.oneOf("log.level", cfg.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", cfg.Log.Format, "json", "console")
	v.validateLimits(&cfg.Limits)
	v.validateKeys(&cfg.Keys)
	v.validateClasses(cfg.Classes)
	for i := range cfg.Routes {
		v.validateRoute(i, &cfg.Routes[i])
	}
	v.validateSections(cfg)
	v.validateAPI(cfg)
}

// oneOf checks a value the file gives against the allowed ones.
func (v *validator) oneOf(path, s string, allowed ...string) {
	if v.has(path) && !slices.Contains(allowed, s) {
		v.errorf(v.at(path), "%s is %q; want one of %s", path, s, strings.Join(allowed, ", "))
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(v.at(path), "%s must be positive", path)
	}
}

func (v *validator) positiveInt(path string, n int) {
	if n <= 0 {
		v.errorf(v.at(path), "%s must be a positive integer below 2^31", path)
	}
}

func (v *validator) validateListen(path, addr string, optional bool) {
	if addr == "" {
		if !optional {
			v.errorf(v.at(path), "%s is empty; give a host:port such as 127.0.0.1:8080", path)
		}
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(v.at(path), "%s: %q is not a host:port address", path, addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		v.errorf(v.at(path), "%s: %q has no valid port (0 to 65535)", path, addr)
	}
}

func (v *validator) validateUpstream(s string) {
	line := v.at("upstream")
	if s == "" {
		v.errorf(line, "upstream is missing; give the application's URL such as http://127.0.0.1:3000")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(line, "upstream: %q is not an http or https URL with a host", s)
		return
	}
	if u.User != nil {
		v.errorf(line, "upstream must not carry credentials in the URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		v.errorf(line, "upstream must not have a query or fragment")
	}
}

func (v *validator) validateLimits(l *Limits) {
	v.positive("limits.upstream_timeout", l.UpstreamTimeout)
	v.positive("limits.body_timeout", l.BodyTimeout)
	v.positive("limits.read_header_timeout", l.ReadHeaderTimeout)
	v.positive("limits.idle_timeout", l.IdleTimeout)
	v.positive("limits.shutdown_timeout", l.ShutdownTimeout)
	v.positiveInt("limits.max_idle_conns_per_host", l.MaxIdleConnsPerHost)
}

func (v *validator) validateKeys(k *Keys) {
	v.oneOf("keys.provider", string(k.Provider), string(ProviderLocal), string(ProviderAWS))
	v.positive("keys.refresh_interval", k.RefreshInterval)
	// A healthy ring is up to one refresh interval old (plus a load) and the
	// warning comes at half the bound: below three intervals a sidecar
	// would warn, or refuse, without any refresh having failed.
	switch {
	case k.MaxStale < 0:
		v.errorf(v.at("keys.max_stale"), "keys.max_stale must be positive, or 0s for no bound")
	case k.MaxStale > 0 && k.RefreshInterval > 0 && k.MaxStale < 3*k.RefreshInterval:
		v.errorf(v.at("keys.max_stale"), "keys.max_stale is %s; with keys.refresh_interval %s it must be at least %s (three refresh intervals)",
			k.MaxStale, k.RefreshInterval, 3*k.RefreshInterval)
	}
	if k.Rotation.MaxAge < 0 {
		v.errorf(v.at("keys.rotation.max_age"), "keys.rotation.max_age must be positive, or 0s for no bound")
	}
	if k.Rotation.MaxSeals < 0 {
		v.errorf(v.at("keys.rotation.max_seals"), "keys.rotation.max_seals must be positive, or 0 for no bound")
	}
	v.oneOf("keys.rotation.sidecar", string(k.Rotation.Sidecar), string(RotateAuto), string(RotateYes), string(RotateNo))
	v.positive("keys.aws.call_timeout", k.AWS.CallTimeout)
	v.positiveInt("keys.aws.max_attempts", k.AWS.MaxAttempts)
	if k.AWS.CMKCheckInterval < 0 {
		v.errorf(v.at("keys.aws.cmk_check_interval"), "keys.aws.cmk_check_interval must be positive, or 0s to disable the check")
	}
	v.endpoint("keys.aws.endpoint", k.AWS.Endpoint)
	v.endpoint("keys.aws.kms_endpoint", k.AWS.KMSEndpoint)
	v.endpoint("keys.aws.secretsmanager_endpoint", k.AWS.SecretsManagerEndpoint)
	if k.Provider == ProviderAWS && k.AWS.SecretID == "" {
		v.errorf(v.at("keys.provider"), "provider aws needs keys.aws.secret_id (the key-ring secret's name or ARN)")
	}
	if k.Provider != ProviderLocal {
		return
	}
	if k.Local.RingFile == "" {
		v.errorf(v.at("keys.local.ring_file"), "keys.local.ring_file is empty; the local provider needs a key-ring file")
	}
	if k.Local.MasterKeyFile == "" && k.Local.MasterKeyEnv == "" {
		v.errorf(v.at("keys.local"), "the local provider needs keys.local.master_key_file or keys.local.master_key_env")
	}
}

// endpoint checks an optional http or https URL.
func (v *validator) endpoint(path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(v.at(path), "%s: %q is not an http or https URL with a host", path, s)
	}
}

// validateClasses checks class names and modes; a class without a mode is
// random.
func (v *validator) validateClasses(classes []Class) {
	for i := range classes {
		c := &classes[i]
		if !validName(c.Name) {
			v.errorf(c.Line, "class name %q: use lower-case letters, digits, '_' and '-' (it is bound into every sealed value)", c.Name)
		}
		path := "classes." + c.Name + ".mode"
		if !v.has(path) {
			c.Mode = fieldmap.ModeRandom
		}
		v.oneOf(path, string(c.Mode), string(fieldmap.ModeRandom), string(fieldmap.ModeDeterministic))
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validateRoute checks what a route needs beyond its shape; fieldmap.Compile
// checks the patterns, paths and classes against each other.
func (v *validator) validateRoute(i int, r *fieldmap.RouteSpec) {
	if r.Line == 0 {
		return // not a mapping, already reported
	}
	where := fmt.Sprintf("routes[%d]", i)
	label := where
	if r.Name != "" {
		label = fmt.Sprintf("route %q", r.Name)
	}
	if r.Name != "" && !validName(r.Name) {
		v.errorf(r.Line, "route name %q: use lower-case letters, digits, '_' and '-' (it is a metric label)", r.Name)
	}
	if !v.has(where + ".name") {
		v.errorf(r.Line, "%s has no name", where)
	}
	methods := where + ".methods"
	v.requireList(r.Line, label, methods, len(r.Methods), "methods", "method")
	seen := map[string]bool{}
	for j, m := range r.Methods {
		line := v.at(fmt.Sprintf("%s[%d]", methods, j))
		if !validMethod(m) {
			v.errorf(line, "%s: %q is not an HTTP method; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS in upper case", methods, m)
		} else if seen[m] {
			v.errorf(line, "%s: %s listed twice", methods, m)
		}
		seen[m] = true
	}
	paths := where + ".paths"
	v.requireList(r.Line, label, paths, len(r.Paths), "paths", "path pattern")
	for _, p := range r.Paths {
		if p.Line > 0 && !strings.HasPrefix(p.Pattern, "/") {
			v.errorf(p.Line, "%s: %q must start with /", paths, p.Pattern)
		}
	}
	if len(r.Request) == 0 && len(r.Response) == 0 {
		v.errorf(r.Line, "%s protects no fields; give request or response fields", label)
	}
	v.validateFields(where+".request", r.Request)
	v.validateFields(where+".response", r.Response)
	if h := r.Context.Header; v.has(where+".context.header") && !validToken(h) {
		v.errorf(v.at(where+".context.header"), "%s.context.header: %q is not a valid header name", where, h)
	}
}

func (v *validator) validateFields(list string, fields []fieldmap.FieldSpec) {
	for i, f := range fields {
		if f.Line == 0 {
			continue // not a mapping, already reported
		}
		if f.Path == "" {
			v.errorf(f.Line, "%s[%d] has no path", list, i)
		}
		if f.Class == "" {
			v.errorf(f.Line, "%s[%d] has no class", list, i)
		}
	}
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

// validToken reports whether s is an HTTP token (RFC 9110), as header names are.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validateSections checks the caller, masking and audit sections against
// each other and against the classes; their packages report problems with
// or without a line, and each lands at its own line or its section's.
func (v *validator) validateSections(cfg *Config) {
	if cfg.Auth != nil {
		v.errs = append(v.errs, lineerr.Locate(cfg.Auth.Check(), v.file, v.at("auth"), "auth")...)
	}
	if cfg.Policies != nil {
		if cfg.Auth == nil {
			v.errorf(v.at("policies"), "policies needs an auth section: callers are matched on verified tokens")
		}
		_, err := policy.Compile(*cfg.Policies, cfg.ClassNames())
		v.errs = append(v.errs, lineerr.Locate(err, v.file, v.at("policies"), "policies")...)
	}
	_, err := mask.NewSet(cfg.Masks())
	v.errs = append(v.errs, lineerr.Locate(err, v.file, v.at("classes"), "")...)
	if cfg.Audit != nil {
		v.errs = append(v.errs, lineerr.Locate(cfg.Audit.Check(), v.file, v.at("audit"), "")...)
	}
	if cfg.Errors != nil {
		v.errs = append(v.errs, lineerr.Locate(cfg.Errors.Check(), v.file, v.at("errors"), "")...)
	}
}
