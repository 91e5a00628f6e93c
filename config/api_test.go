package config

import (
	"strings"
	"testing"
)

func TestAPISection(t *testing.T) {
	const up = "upstream: http://127.0.0.1:3000\n"
	const authYAML = "auth: {issuer: https://issuer.example, client_ids: [a]}\n"
	t.Run("no api section is no API listener", func(t *testing.T) {
		cfg, err := Parse([]byte(up), "c.yaml")
		if err != nil || cfg.API != nil {
			t.Fatalf("api = %+v, err %v", cfg.API, err)
		}
	})
	t.Run("an api section with auth gets its defaults", func(t *testing.T) {
		cfg, err := Parse([]byte(up+authYAML+"api:\n  listen: 127.0.0.1:8443\n"), "c.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.API.Listen != "127.0.0.1:8443" || cfg.API.MaxItems != DefaultAPIMaxItems || cfg.API.AllowAnonymous || cfg.API.TLS.Enabled() {
			t.Errorf("api = %+v", cfg.API)
		}
	})
	t.Run("an anonymous api needs no auth", func(t *testing.T) {
		cfg, err := Parse([]byte(up+"api: {listen: \"127.0.0.1:8443\", allow_anonymous: true, max_items: 5}\n"), "c.yaml")
		if err != nil || cfg.API.MaxItems != 5 || !cfg.API.AllowAnonymous {
			t.Fatalf("api = %+v, err %v", cfg.API, err)
		}
	})
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"an api without auth or allow_anonymous is refused", up + "api:\n  listen: 127.0.0.1:8443\n",
			[]string{"c.yaml:2: api needs an auth section to verify its callers, or allow_anonymous: true"}},
		{"an api without listen is refused", up + authYAML + "api:\n  allow_anonymous: true\n",
			[]string{"c.yaml:3: api needs listen"}},
		{"a bad api listen is reported at its line", up + authYAML + "api:\n  listen: localhost\n",
			[]string{`c.yaml:4: api.listen: "localhost" is not a host:port address`}},
		{"an api on the proxy's address is refused", up + authYAML + "listen: 127.0.0.1:1\napi:\n  listen: 127.0.0.1:1\n",
			[]string{"c.yaml:5: api.listen is the same address as listen"}},
		{"api tls with a certificate but no key is refused", up + authYAML + "api:\n  listen: 127.0.0.1:8443\n  tls: {cert_file: c.pem}\n",
			[]string{"c.yaml:5: api.tls needs both api.tls.cert_file and api.tls.key_file"}},
		{"a zero max_items is refused", up + authYAML + "api:\n  listen: 127.0.0.1:8443\n  max_items: 0\n",
			[]string{"c.yaml:5: api.max_items must be a positive integer"}},
		{"an unknown api key is reported", up + authYAML + "api:\n  listen: 127.0.0.1:8443\n  port: 1\n",
			[]string{`c.yaml:5: unknown key "port" in api`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "c.yaml")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			problems := strings.Split(err.Error(), "\n")
			if len(problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(problems), len(tc.want), err)
			}
			for i, w := range tc.want {
				if i < len(problems) && !strings.Contains(problems[i], w) {
					t.Errorf("problem %q does not contain %q", problems[i], w)
				}
			}
		})
	}
}
