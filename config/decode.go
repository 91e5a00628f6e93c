package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
)

// decoder turns a YAML node tree into a Config, checking every key itself:
// yaml.v3's KnownFields is not honoured below a custom unmarshaler, and a
// hand-walked tree also gives each entry its line.
type decoder struct {
	file  string
	errs  []error
	lines map[Key]int // line of each key seen, for checks made after decoding
	root  int         // line of the root mapping
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

// decode fills cfg from data; it reports false when there is no document to
// validate at all.
func (d *decoder) decode(data []byte, cfg *Config) bool {
	d.lines = map[Key]int{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "file is empty")
		} else {
			line, msg := yamlErrorLine(err)
			if strings.Contains(msg, "did not find expected ',' or ']'") {
				msg += "; quote list items that contain { or [, such as \"/customers/{id}\""
			}
			d.errorf(line, "%s", msg)
		}
		return false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		d.errorf(extra.Line, "only one YAML document is allowed")
	}
	root := doc.Content[0]
	d.root = root.Line
	if root.Kind != yaml.MappingNode {
		d.errorf(root.Line, "the top level must be a mapping of keys to values")
		return false
	}
	d.mapping(root, "", "", func(key Key, name string, k, v *yaml.Node) bool {
		return d.decodeRoot(key, name, v, cfg)
	})
	return true
}

// yamlErrorLine splits a yaml.v3 syntax error ("yaml: line 3: did not find
// ...") into its line (0 if none) and message. yaml.v3 reports some parser
// errors one line before the construct at fault, hence "near".
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if j := strings.IndexByte(rest, ':'); j > 0 {
			if n, err := strconv.Atoi(rest[:j]); err == nil {
				return n, "invalid YAML near here: " + strings.TrimSpace(rest[j+1:])
			}
		}
	}
	return 0, "invalid YAML: " + msg
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping calls fn for each key of the mapping n, whose schema name is
// prefix and whose place in the document is where ("" for the root,
// "routes[2]", "classes.email"). fn gets the schema key and the key's place
// in the document (for messages), and returns false for a key it does not
// know. Unknown and repeated keys are errors.
func (d *decoder) mapping(n *yaml.Node, prefix, where string, fn func(key Key, name string, k, v *yaml.Node) bool) {
	in := where
	if in == "" {
		in = "the top level"
	}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty section keeps its defaults
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "%s must be a mapping of keys to values", in)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, "%s has a key that is not a plain name", in)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, "key %q repeated in %s (first at line %d)", k.Value, in, first)
			continue
		}
		seen[k.Value] = k.Line
		key := Key(k.Value)
		if prefix != "" {
			key = Key(prefix + "." + k.Value)
		}
		name := k.Value
		if where != "" {
			name = where + "." + k.Value
		}
		d.lines[key] = k.Line
		if !fn(key, name, k, v) {
			d.errorf(k.Line, "unknown key %q in %s", k.Value, in)
		}
	}
}

// sequence calls fn for each entry of the list n.
func (d *decoder) sequence(n *yaml.Node, what string, fn func(i int, v *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, "%s must be a list", what)
		return
	}
	for i, v := range n.Content {
		fn(i, resolve(v))
	}
}

func (d *decoder) str(v *yaml.Node, key string, dst *string) bool {
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		*dst = ""
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
		*dst = v.Value
	case v.Kind == yaml.ScalarNode:
		d.errorf(v.Line, "%s must be a string, not %s; quote it", key, tagName(v))
		return false
	case v.Style&yaml.FlowStyle != 0:
		d.errorf(v.Line, "%s must be a string, not a %s; quote values that contain { or [", key, kindName(v))
		return false
	default:
		d.errorf(v.Line, "%s must be a string, not a %s", key, kindName(v))
		return false
	}
	return true
}

func (d *decoder) strings(v *yaml.Node, key string, dst *[]string, lines *[]int) {
	*dst = nil
	d.sequence(v, key, func(i int, e *yaml.Node) {
		var s string
		if d.str(e, key, &s) {
			*dst = append(*dst, s)
			if lines != nil {
				*lines = append(*lines, e.Line)
			}
		}
	})
}

func (d *decoder) duration(v *yaml.Node, key string, dst *time.Duration) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.errorf(v.Line, "%s must be a duration like 30s, 1m or 1h30m", key)
		return
	}
	s := v.Value
	t, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(v.Line, "%s: %q is not a duration; write it like 30s, 1m or 1h30m", key, s)
		return
	}
	if t <= 0 {
		d.errorf(v.Line, "%s must be positive", key)
		return
	}
	*dst = t
}

func (d *decoder) boolean(v *yaml.Node, key string, dst *bool) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		d.errorf(v.Line, "%s must be true or false", key)
		return
	}
	b, err := strconv.ParseBool(strings.ToLower(v.Value))
	if err != nil {
		// YAML 1.1 spellings (yes, on) that yaml.v3 still tags !!bool.
		d.errorf(v.Line, "%s: write %q as true or false", key, v.Value)
		return
	}
	*dst = b
}

func (d *decoder) integer(v *yaml.Node, key string, dst *int) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
		d.errorf(v.Line, "%s must be an integer", key)
		return
	}
	n, err := strconv.ParseInt(v.Value, 0, 32)
	if err != nil || n <= 0 {
		d.errorf(v.Line, "%s must be a positive integer below 2^31", key)
		return
	}
	*dst = int(n)
}

// size reads a byte count: an integer, or a string with a binary (KiB, MiB,
// GiB) or decimal (KB, MB, GB) unit.
func (d *decoder) size(v *yaml.Node, key string, dst *int64) {
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!str") {
		d.errorf(v.Line, "%s must be a number of bytes like 1048576 or \"1MiB\"", key)
		return
	}
	n, ok := parseSize(v.Value)
	if !ok || n <= 0 {
		d.errorf(v.Line, "%s: %q is not a positive number of bytes; write it like 1048576 or \"1MiB\"", key, v.Value)
		return
	}
	*dst = n
}

func parseSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

func tagName(v *yaml.Node) string {
	switch v.Tag {
	case "!!int":
		return "a number"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return strings.TrimPrefix(v.Tag, "!!")
}

func kindName(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "scalar"
}

// decodeRoot decodes one top-level key. A new section is a new case here.
func (d *decoder) decodeRoot(key Key, name string, v *yaml.Node, cfg *Config) bool {
	switch key {
	case KeyListen:
		d.str(v, name, &cfg.Listen)
	case KeyUpstream:
		d.str(v, name, &cfg.Upstream)
	case KeyAdminListen:
		d.str(v, name, &cfg.AdminListen)
	case KeyAdminPprof:
		d.boolean(v, name, &cfg.AdminPprof)
	case KeyOnOpenError:
		var s string
		if d.str(v, name, &s) {
			cfg.OnOpenError = OnOpenError(s)
			d.oneOf(v, name, s, string(OnOpenErrorFail), string(OnOpenErrorSealed))
		}
	case KeyLimits:
		d.mapping(v, string(key), string(key), func(key Key, name string, _, v *yaml.Node) bool {
			l := &cfg.Limits
			switch key {
			case KeyMaxBodyBytes:
				d.size(v, name, &l.MaxBodyBytes)
			case KeyUpstreamTimeout:
				d.duration(v, name, &l.UpstreamTimeout)
			case KeyReadHeaderTimeout:
				d.duration(v, name, &l.ReadHeaderTimeout)
			case KeyIdleTimeout:
				d.duration(v, name, &l.IdleTimeout)
			case KeyMaxIdleConnsPerHost:
				d.integer(v, name, &l.MaxIdleConnsPerHost)
			case KeyShutdownTimeout:
				d.duration(v, name, &l.ShutdownTimeout)
			default:
				return false
			}
			return true
		})
	case KeyTLS:
		d.mapping(v, string(key), string(key), func(key Key, name string, _, v *yaml.Node) bool {
			switch key {
			case KeyTLSCertFile:
				d.str(v, name, &cfg.TLS.CertFile)
			case KeyTLSKeyFile:
				d.str(v, name, &cfg.TLS.KeyFile)
			default:
				return false
			}
			return true
		})
	case KeyKeys:
		d.decodeKeys(v, &cfg.Keys)
	case KeyLog:
		d.mapping(v, string(key), string(key), func(key Key, name string, _, v *yaml.Node) bool {
			switch key {
			case KeyLogLevel:
				if d.str(v, name, &cfg.Log.Level) {
					d.oneOf(v, name, cfg.Log.Level, "debug", "info", "warn", "error")
				}
			case KeyLogFormat:
				if d.str(v, name, &cfg.Log.Format) {
					d.oneOf(v, name, cfg.Log.Format, "json", "console")
				}
			default:
				return false
			}
			return true
		})
	case KeyClasses:
		d.decodeClasses(v, cfg)
	case KeyRoutes:
		d.sequence(v, name, func(i int, v *yaml.Node) {
			cfg.Routes = append(cfg.Routes, d.decodeRoute(i, v))
		})
	case KeyAuth:
		var a auth.Config
		if d.section(v, &a) {
			cfg.Auth = &a
		}
	case KeyPolicies:
		var p policy.Spec
		if d.section(v, &p) {
			cfg.Policies = &p
		}
	case KeyAudit:
		var a audit.Config
		if d.section(v, &a) {
			cfg.Audit = &a
		}
	default:
		return false
	}
	return true
}

func (d *decoder) oneOf(v *yaml.Node, key string, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	d.errorf(v.Line, "%s is %q; want one of %s", key, s, strings.Join(allowed, ", "))
}

func (d *decoder) decodeKeys(v *yaml.Node, k *Keys) {
	d.mapping(v, string(KeyKeys), string(KeyKeys), func(key Key, name string, _, v *yaml.Node) bool {
		switch key {
		case KeyKeysProvider:
			var s string
			if d.str(v, name, &s) {
				k.Provider = Provider(s)
				d.oneOf(v, name, s, string(ProviderLocal), string(ProviderAWS))
			}
		case KeyKeysRefreshInterval:
			d.duration(v, name, &k.RefreshInterval)
		case KeyKeysLocal:
			d.mapping(v, string(key), name, func(key Key, name string, _, v *yaml.Node) bool {
				switch key {
				case KeyLocalRingFile:
					d.str(v, name, &k.Local.RingFile)
				case KeyLocalMasterKeyFile:
					d.str(v, name, &k.Local.MasterKeyFile)
				case KeyLocalMasterKeyEnv:
					d.str(v, name, &k.Local.MasterKeyEnv)
				default:
					return false
				}
				return true
			})
		case KeyKeysAWS:
			d.decodeAWS(v, name, &k.AWS)
		default:
			return false
		}
		return true
	})
}

func (d *decoder) decodeAWS(v *yaml.Node, where string, a *AWSKeys) {
	d.mapping(v, string(KeyKeysAWS), where, func(key Key, name string, _, v *yaml.Node) bool {
		switch key {
		case KeyAWSRegion:
			d.str(v, name, &a.Region)
		case KeyAWSKMSKeyID:
			d.str(v, name, &a.KMSKeyID)
		case KeyAWSSecretID:
			d.str(v, name, &a.SecretID)
		case KeyAWSEndpoint:
			d.endpoint(v, name, &a.Endpoint)
		case KeyAWSKMSEndpoint:
			d.endpoint(v, name, &a.KMSEndpoint)
		case KeyAWSSecretsManagerEndpoint:
			d.endpoint(v, name, &a.SecretsManagerEndpoint)
		case KeyAWSCallTimeout:
			d.duration(v, name, &a.CallTimeout)
		case KeyAWSMaxAttempts:
			d.integer(v, name, &a.MaxAttempts)
		case KeyAWSCMKCheckInterval:
			if v.Kind == yaml.ScalarNode && (v.Value == "0" || v.Value == "0s") {
				a.CMKCheckInterval = 0
			} else {
				d.duration(v, name, &a.CMKCheckInterval)
			}
		default:
			return false
		}
		return true
	})
}

// endpoint reads an optional http or https URL.
func (d *decoder) endpoint(v *yaml.Node, key string, dst *string) {
	if !d.str(v, key, dst) || *dst == "" {
		return
	}
	u, err := url.Parse(*dst)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(v.Line, "%s: %q is not an http or https URL with a host", key, *dst)
	}
}

func (d *decoder) decodeClasses(v *yaml.Node, cfg *Config) {
	d.mapping(v, string(KeyClasses), string(KeyClasses), func(_ Key, where string, k, v *yaml.Node) bool {
		c := Class{Name: k.Value, Mode: ModeRandom, Line: k.Line}
		if !validName(c.Name) {
			d.errorf(k.Line, "class name %q: use lower-case letters, digits, '_' and '-' (it is bound into every sealed value)", c.Name)
		}
		d.mapping(v, "classes.<name>", where, func(key Key, name string, _, v *yaml.Node) bool {
			switch key {
			case KeyClassMode:
				var s string
				if d.str(v, name, &s) {
					c.Mode = Mode(s)
					d.oneOf(v, name, s, string(ModeRandom), string(ModeDeterministic))
				}
			case KeyClassMask:
				var m mask.Spec
				if d.section(v, &m) {
					c.Mask = &m
				}
			default:
				return false
			}
			return true
		})
		cfg.Classes = append(cfg.Classes, c)
		return true
	})
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

func (d *decoder) decodeRoute(i int, v *yaml.Node) Route {
	r := Route{Line: v.Line}
	where := fmt.Sprintf("routes[%d]", i)
	seen := map[Key]bool{}
	d.mapping(v, "routes[]", where, func(key Key, name string, _, v *yaml.Node) bool {
		seen[key] = true
		switch key {
		case KeyRouteName:
			d.str(v, name, &r.Name)
		case KeyRouteMethods:
			var lines []int
			d.strings(v, name, &r.Methods, &lines)
			dup := map[string]bool{}
			for j, m := range r.Methods {
				if !validMethod(m) {
					d.errorf(lines[j], "%s: %q is not an HTTP method; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS in upper case", name, m)
				} else if dup[m] {
					d.errorf(lines[j], "%s: %s listed twice", name, m)
				}
				dup[m] = true
			}
			if emptyList(v) {
				d.errorf(v.Line, "%s is empty; list at least one method", name)
			}
		case KeyRoutePaths:
			var pats []string
			var lines []int
			d.strings(v, name, &pats, &lines)
			for j, p := range pats {
				if !strings.HasPrefix(p, "/") {
					d.errorf(lines[j], "%s: %q must start with /", name, p)
				}
				r.Paths = append(r.Paths, RoutePath{Pattern: p, Line: lines[j]})
			}
			if emptyList(v) {
				d.errorf(v.Line, "%s is empty; list at least one path pattern", name)
			}
		case KeyRouteRequest:
			r.Request = d.decodeFields(v, name)
		case KeyRouteResponse:
			r.Response = d.decodeFields(v, name)
		case KeyRouteContext:
			d.mapping(v, string(key), name, func(key Key, name string, _, v *yaml.Node) bool {
				switch key {
				case KeyRouteContextHeader:
					if d.str(v, name, &r.ContextHeader) && !validToken(r.ContextHeader) {
						d.errorf(v.Line, "%s: %q is not a valid header name", name, r.ContextHeader)
					}
				default:
					return false
				}
				return true
			})
		default:
			return false
		}
		return true
	})
	if v.Kind != yaml.MappingNode {
		return r
	}
	label := where
	if r.Name != "" {
		label = fmt.Sprintf("route %q", r.Name)
	}
	if !seen[KeyRouteName] {
		d.errorf(r.Line, "%s has no name", where)
	}
	if !seen[KeyRouteMethods] {
		d.errorf(r.Line, "%s has no methods", label)
	}
	if !seen[KeyRoutePaths] {
		d.errorf(r.Line, "%s has no paths", label)
	}
	if len(r.Request) == 0 && len(r.Response) == 0 {
		d.errorf(r.Line, "%s protects no fields; give request or response fields", label)
	}
	return r
}

func (d *decoder) decodeFields(v *yaml.Node, list string) []Field {
	var fields []Field
	d.sequence(v, list, func(i int, v *yaml.Node) {
		f := Field{Line: v.Line}
		where := fmt.Sprintf("%s[%d]", list, i)
		d.mapping(v, "routes[].<side>[]", where, func(key Key, name string, _, v *yaml.Node) bool {
			switch key {
			case KeyFieldPath:
				d.str(v, name, &f.Path)
			case KeyFieldClass:
				d.str(v, name, &f.Class)
			default:
				return false
			}
			return true
		})
		if v.Kind == yaml.MappingNode {
			if f.Path == "" {
				d.errorf(f.Line, "%s has no path", where)
			}
			if f.Class == "" {
				d.errorf(f.Line, "%s has no class", where)
			}
		}
		fields = append(fields, f)
	})
	return fields
}

// emptyList reports whether v is an empty list or no value at all.
func emptyList(v *yaml.Node) bool {
	return (v.Kind == yaml.SequenceNode && len(v.Content) == 0) || (v.Kind == yaml.ScalarNode && v.Tag == "!!null")
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
