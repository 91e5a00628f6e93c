package config

import (
	"net"
	"net/url"
	"strconv"
)

// validate checks what needs more than one key, or keys the file left out.
// Lines point at the key when the file has it, else at the enclosing entry.
func (d *decoder) validate(cfg *Config) {
	d.validateListen(KeyListen, cfg.Listen, false)
	d.validateListen(KeyAdminListen, cfg.AdminListen, true)
	if cfg.AdminListen != "" && cfg.AdminListen == cfg.Listen {
		d.errorf(d.line(KeyAdminListen), "%s is the same address as %s", KeyAdminListen, KeyListen)
	}
	if cfg.AdminPprof && cfg.AdminListen == "" {
		d.errorf(d.line(KeyAdminPprof), "%s needs the admin server, but %s is empty", KeyAdminPprof, KeyAdminListen)
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		d.errorf(d.line(KeyTLS), "%s needs both %s and %s", KeyTLS, KeyTLSCertFile, KeyTLSKeyFile)
	}
	d.validateUpstream(cfg.Upstream)
	d.validateKeys(&cfg.Keys)
	for _, r := range cfg.Routes {
		d.validateRoute(&r)
	}
	d.validateSections(cfg)
}

// line returns the line of key in the file, or the root mapping's line.
func (d *decoder) line(key Key) int {
	if l, ok := d.lines[key]; ok {
		return l
	}
	return d.root
}

func (d *decoder) validateListen(key Key, addr string, optional bool) {
	if addr == "" {
		if !optional {
			d.errorf(d.line(key), "%s is empty; give a host:port such as 127.0.0.1:8080", key)
		}
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		d.errorf(d.line(key), "%s: %q is not a host:port address", key, addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		d.errorf(d.line(key), "%s: %q has no valid port (0 to 65535)", key, addr)
	}
}

func (d *decoder) validateUpstream(s string) {
	if s == "" {
		d.errorf(d.line(KeyUpstream), "%s is missing; give the application's URL such as http://127.0.0.1:3000", KeyUpstream)
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(d.line(KeyUpstream), "%s: %q is not an http or https URL with a host", KeyUpstream, s)
		return
	}
	if u.User != nil {
		d.errorf(d.line(KeyUpstream), "%s must not carry credentials in the URL", KeyUpstream)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		d.errorf(d.line(KeyUpstream), "%s must not have a query or fragment", KeyUpstream)
	}
}

func (d *decoder) validateKeys(k *Keys) {
	if k.Provider == ProviderAWS && k.AWS.SecretID == "" {
		d.errorf(d.line(KeyKeysProvider), "provider aws needs %s (the key-ring secret's name or ARN)", KeyAWSSecretID)
	}
	if k.Provider != ProviderLocal {
		return
	}
	if k.Local.RingFile == "" {
		d.errorf(d.line(KeyLocalRingFile), "%s is empty; the local provider needs a key-ring file", KeyLocalRingFile)
	}
	if k.Local.MasterKeyFile == "" && k.Local.MasterKeyEnv == "" {
		d.errorf(d.line(KeyKeysLocal), "the local provider needs %s or %s", KeyLocalMasterKeyFile, KeyLocalMasterKeyEnv)
	}
}

func (d *decoder) validateRoute(r *Route) {
	if r.Name != "" && !validName(r.Name) {
		d.errorf(r.Line, "route name %q: use lower-case letters, digits, '_' and '-' (it is a metric label)", r.Name)
	}
}
