package config

// API is the `api:` section: the encryption API's own listener (package
// api), off unless the section is present.
type API struct {
	// Listen is the host:port of the API listener (required).
	Listen string `yaml:"listen"`
	// TLS serves the API listener over TLS, as the proxy's tls section.
	TLS TLS `yaml:"tls"`
	// AllowAnonymous lets calls without a bearer token in: as the
	// policies' anonymous caller with auth, with full access without auth.
	// Without it such calls are refused with 401.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// MaxItems bounds the items of one call; 0 in the file is refused,
	// absent is DefaultAPIMaxItems.
	MaxItems int `yaml:"max_items"`
}

// DefaultAPIMaxItems is api.max_items when the file does not set it.
const DefaultAPIMaxItems = 1000

// validateAPI checks the api section against itself, the other listeners
// and the auth section.
func (v *validator) validateAPI(cfg *Config) {
	a := cfg.API
	if a == nil {
		return
	}
	if !v.has("api.listen") {
		v.errorf(v.at("api"), "api needs listen, the host:port of the API listener")
	} else {
		v.validateListen("api.listen", a.Listen, false)
	}
	for _, other := range []struct{ key, addr string }{{"listen", cfg.Listen}, {"admin_listen", cfg.AdminListen}} {
		if a.Listen != "" && a.Listen == other.addr {
			v.errorf(v.at("api.listen"), "api.listen is the same address as %s", other.key)
		}
	}
	if (a.TLS.CertFile == "") != (a.TLS.KeyFile == "") {
		v.errorf(v.at("api.tls"), "api.tls needs both api.tls.cert_file and api.tls.key_file")
	}
	if !v.has("api.max_items") {
		a.MaxItems = DefaultAPIMaxItems
	}
	v.positiveInt("api.max_items", a.MaxItems)
	if cfg.Auth == nil && !a.AllowAnonymous {
		v.errorf(v.at("api"), "api needs an auth section to verify its callers, or allow_anonymous: true to serve every caller with full access")
	}
}
