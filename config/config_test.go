package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

func TestLoadQuickstart(t *testing.T) {
	cfg, err := Load("testdata/quickstart.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.File != "testdata/quickstart.yaml" || cfg.Listen != "127.0.0.1:8080" || cfg.Upstream != "http://127.0.0.1:3000" || cfg.AdminListen != "127.0.0.1:9090" {
		t.Errorf("addresses: %+v", cfg)
	}
	if cfg.Limits.MaxBodyBytes != 1<<20 || cfg.Limits.UpstreamTimeout != 30*time.Second {
		t.Errorf("limits: %+v", cfg.Limits)
	}
	if cfg.Limits.IdleTimeout != 90*time.Second {
		t.Errorf("idle_timeout not defaulted: %v", cfg.Limits.IdleTimeout)
	}
	var classes []string
	for _, c := range cfg.Classes {
		classes = append(classes, string(c.Name)+":"+string(c.Mode))
	}
	if got := strings.Join(classes, " "); got != "email:random phone:random street:random" {
		t.Errorf("classes = %s", got)
	}
	if len(cfg.Routes) != 3 {
		t.Fatalf("routes = %d, want 3", len(cfg.Routes))
	}
	w := cfg.Routes[0]
	if w.Name != "customers-write" || !reflect.DeepEqual(w.Methods, []string{"POST", "PUT", "PATCH"}) ||
		len(w.Paths) != 2 || w.Paths[1].Pattern != "/customers/{id}" || len(w.Request) != 3 || len(w.Response) != 3 {
		t.Errorf("customers-write = %+v", w)
	}
	if w.Line != 40 || w.Paths[0].Line != 42 || w.Request[2].Line != 46 || w.Request[2].Path != "address.street" || w.Request[2].Class != "street" {
		t.Errorf("lines: route %d, path %d, field %d", w.Line, w.Paths[0].Line, w.Request[2].Line)
	}
	if cfg.Classes[0].Line != 26 {
		t.Errorf("class email at line %d, want 26", cfg.Classes[0].Line)
	}
	if got := cfg.Routes[1].Response[0].Path; got != "#.email" {
		t.Errorf("list route path = %q", got)
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	cfg, err := Parse([]byte("upstream: https://app.internal:8443/base\n"), "min.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.File = "min.yaml"
	want.Upstream = "https://app.internal:8443/base"
	want.lines = cfg.lines // where the keys were is not a default
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", *cfg, want)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		got  func(*Config) any
		want any
	}{
		{"a plain integer size is bytes", "limits: {max_body_bytes: 2048}", func(c *Config) any { return c.Limits.MaxBodyBytes }, ByteSize(2048)},
		{"a MiB size is binary", `limits: {max_body_bytes: "4MiB"}`, func(c *Config) any { return c.Limits.MaxBodyBytes }, ByteSize(4 << 20)},
		{"a KB size is decimal", `limits: {max_body_bytes: 10KB}`, func(c *Config) any { return c.Limits.MaxBodyBytes }, ByteSize(10000)},
		{"durations use Go syntax", "limits: {upstream_timeout: 1m30s}", func(c *Config) any { return c.Limits.UpstreamTimeout }, 90 * time.Second},
		{"a class without settings is random", "classes: {email: }", func(c *Config) any { return c.Classes[0].Mode }, fieldmap.ModeRandom},
		{"a deterministic class is kept", "classes: {email: {mode: deterministic}}", func(c *Config) any { return c.Classes[0].Mode }, fieldmap.ModeDeterministic},
		{"admin_pprof turns profiles on", "admin_pprof: true", func(c *Config) any { return c.AdminPprof }, true},
		{"an empty admin address disables admin", `admin_listen: ""`, func(c *Config) any { return c.AdminListen }, ""},
		{"the aws section is read", "keys:\n  provider: aws\n  aws: {region: eu-west-1, secret_id: pii/ring, endpoint: \"http://127.0.0.1:4566\", cmk_check_interval: 0s, max_attempts: 5}",
			func(c *Config) any { return c.Keys.AWS }, AWSKeys{Region: "eu-west-1", SecretID: "pii/ring", Endpoint: "http://127.0.0.1:4566", CallTimeout: 5 * time.Second, MaxAttempts: 5}},
		{"keys.max_stale is read", "keys: {refresh_interval: 1m, max_stale: 1h}", func(c *Config) any { return c.Keys.MaxStale }, time.Hour},
		{"keys refresh every 15m by default", "", func(c *Config) any { return c.Keys.RefreshInterval }, 15 * time.Minute},
		{"keys.rotation is read", "keys: {rotation: {max_age: 2160h, max_seals: 1000, sidecar: yes}}",
			func(c *Config) any { return c.Keys.Rotation }, Rotation{MaxAge: 2160 * time.Hour, MaxSeals: 1000, Sidecar: RotateYes}},
		{"a duration in whole days is read as the CLI flags read it", "keys: {rotation: {max_age: 90d}}",
			func(c *Config) any { return c.Keys.Rotation.MaxAge }, 90 * 24 * time.Hour},
		{"keys.rotation bounds nothing by default", "", func(c *Config) any { return c.Keys.Rotation }, Rotation{Sidecar: RotateAuto}},
		{"sealed on_open_error is kept", "on_open_error: sealed", func(c *Config) any { return c.OnOpenError }, OnOpenErrorSealed},
		{"a route context header is read", "classes: {e: }\nroutes:\n- name: r\n  methods: [GET]\n  paths: [/x]\n  context: {header: X-Tenant-ID}\n  response: [{path: a, class: e}]",
			func(c *Config) any { return c.Routes[0].Context.Header }, "X-Tenant-ID"},
		{"YAML anchors are followed", "classes: {e: &m {mode: deterministic}, f: *m}", func(c *Config) any { return c.Classes[1].Mode }, fieldmap.ModeDeterministic},
		{"an empty section keeps its defaults", "limits:\nlog:", func(c *Config) any { return c.Log.Level }, "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte("upstream: http://127.0.0.1:3000\n"+tt.yaml+"\n"), "t.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseReportsProblemsWithLines(t *testing.T) {
	const up = "upstream: http://127.0.0.1:3000\n" // line 1 of every case but the first ones
	route := func(body string) string {
		return up + "classes: {email: }\nroutes:\n  - name: r\n" + body
	}
	tests := []struct {
		name string
		yaml string
		want []string // each a substring of one reported problem
	}{
		{"an empty file is refused", "", []string{"c.yaml: file is empty"}},
		{"broken YAML names its line", "upstream: http://x\nlisten: [\n", []string{"c.yaml:2: invalid YAML near here: did not find expected node content"}},
		{"an unclosed brace names the line it opens on", "upstream: http://x\nclasses:\n  email: { mode: random\nroutes: []\n", []string{"c.yaml:3: invalid YAML near here: did not find expected ',' or '}'"}},
		{"a missing upstream is reported", "listen: 127.0.0.1:1\n", []string{"c.yaml:1: upstream is missing"}},
		{"a non-mapping document is refused", "- a\n", []string{"c.yaml:1: the top level must be a mapping"}},
		{"an unknown top-level key is reported", up + "lissen: x\n", []string{`c.yaml:2: unknown key "lissen" in the top level`}},
		{"an unknown key in a section is reported", up + "limits:\n  max_body: 1\n", []string{`c.yaml:3: unknown key "max_body" in limits`}},
		{"an unknown key deep in keys is reported", up + "keys:\n  local:\n    ring: x\n", []string{`c.yaml:4: unknown key "ring" in keys.local`}},
		{"a repeated key is reported", up + "listen: a:1\nlisten: b:2\n", []string{`c.yaml:3: key "listen" repeated in the top level (first at line 2)`}},
		{"a bad listen address is reported", up + "listen: localhost\n", []string{`c.yaml:2: listen: "localhost" is not a host:port`}},
		{"a bad port is reported", up + "admin_listen: 127.0.0.1:99999\n", []string{`c.yaml:2: admin_listen: "127.0.0.1:99999" has no valid port`}},
		{"admin_pprof must be a boolean", up + "admin_pprof: \"yes\"\n", []string{"c.yaml:2: admin_pprof must be true or false"}},
		{"admin_pprof without the admin server is refused", up + "admin_listen: \"\"\nadmin_pprof: true\n", []string{"c.yaml:3: admin_pprof needs the admin server, but admin_listen is empty"}},
		{"admin on the proxy's address is refused", up + "listen: 127.0.0.1:1\nadmin_listen: 127.0.0.1:1\n", []string{"c.yaml:3: admin_listen is the same address as listen"}},
		{"a non-http upstream is refused", "upstream: ftp://x\n", []string{`c.yaml:1: upstream: "ftp://x" is not an http or https URL`}},
		{"an upstream without host is refused", "upstream: http://\n", []string{`c.yaml:1: upstream: "http://" is not`}},
		{"credentials in the upstream are refused", "upstream: http://u:p@x\n", []string{"c.yaml:1: upstream must not carry credentials"}},
		{"a bad duration is reported", up + "limits: {upstream_timeout: 30}\n", []string{`c.yaml:2: limits.upstream_timeout: "30" is not a duration`}},
		{"a fractional day is not a duration", up + "keys: {rotation: {max_age: 1.5d}}\n", []string{`c.yaml:2: keys.rotation.max_age: "1.5d" is not a duration`}},
		{"a negative duration is refused", up + "keys: {refresh_interval: -1m}\n", []string{"c.yaml:2: keys.refresh_interval must be positive"}},
		{"a negative max_stale is refused", up + "keys: {max_stale: -1m}\n", []string{"c.yaml:2: keys.max_stale must be positive, or 0s for no bound"}},
		{"negative rotation bounds and an unknown sidecar mode are refused", up + "keys:\n  rotation:\n    max_age: -1h\n    max_seals: -5\n    sidecar: always\n", []string{
			"c.yaml:4: keys.rotation.max_age must be positive, or 0s for no bound",
			"c.yaml:5: keys.rotation.max_seals must be positive, or 0 for no bound",
			"c.yaml:6: keys.rotation.sidecar is \"always\"; want one of auto, yes, no"}},
		{"a max_stale a healthy ring would reach is refused", up + "keys:\n  refresh_interval: 1m\n  max_stale: 2m\n", []string{"c.yaml:4: keys.max_stale is 2m0s; with keys.refresh_interval 1m0s it must be at least 3m0s"}},
		{"a bad size is reported", up + "limits:\n  max_body_bytes: lots\n", []string{`c.yaml:3: limits.max_body_bytes: "lots" is not a positive number of bytes`}},
		{"a bad integer is reported", up + "limits:\n  max_idle_conns_per_host: many\n", []string{"c.yaml:3: limits.max_idle_conns_per_host must be an integer"}},
		{"a bad on_open_error is reported", up + "on_open_error: ignore\n", []string{`c.yaml:2: on_open_error is "ignore"; want one of error, sealed`}},
		{"a bad provider is reported", up + "keys: {provider: vault}\n", []string{`c.yaml:2: keys.provider is "vault"; want one of local, aws`}},
		{"a local provider without master key source is reported", up + "keys:\n  local:\n    master_key_env: \"\"\n", []string{"c.yaml:3: the local provider needs keys.local.master_key_file or keys.local.master_key_env"}},
		{"provider aws without a secret is reported", up + "keys:\n  provider: aws\n", []string{"c.yaml:3: provider aws needs keys.aws.secret_id"}},
		{"a bad aws endpoint is reported", up + "keys:\n  aws:\n    endpoint: localhost:4566\n", []string{`c.yaml:4: keys.aws.endpoint: "localhost:4566" is not an http or https URL`}},
		{"an unknown aws key is reported", up + "keys:\n  aws:\n    secret: x\n", []string{`c.yaml:4: unknown key "secret" in keys.aws`}},
		{"a bad log level is reported", up + "log:\n  level: loud\n", []string{`c.yaml:3: log.level is "loud"`}},
		{"a number where a string belongs is reported", up + "listen: 8080\n", []string{"c.yaml:2: listen must be a string, not a number; quote it"}},
		{"a list where a string belongs is reported", "upstream: [a]\n", []string{"c.yaml:1: upstream must be a string, not a list", "c.yaml:1: upstream is missing"}},
		{"a bad class mode is reported", up + "classes:\n  email: {mode: secret}\n", []string{`c.yaml:3: classes.email.mode is "secret"; want one of random, deterministic`}},
		{"an unknown class key is reported", up + "classes:\n  email:\n    colour: x\n", []string{`c.yaml:4: unknown key "colour" in classes.email`}},
		{"an unknown mask format is reported at its line", up + "classes:\n  email:\n    mask: x\n", []string{`c.yaml:4: class "email": mask: unknown format "x"`}},
		{"tls with a certificate but no key is reported", up + "tls:\n  cert_file: c.pem\n", []string{`c.yaml:2: tls needs both tls.cert_file and tls.key_file`}},
		{"admin_tls with a key but no certificate is reported", up + "admin_tls:\n  key_file: k.pem\n", []string{`c.yaml:2: admin_tls needs both admin_tls.cert_file and admin_tls.key_file`}},
		{"admin_tls without the admin server is reported", up + "admin_listen: \"\"\nadmin_tls: {cert_file: c.pem, key_file: k.pem}\n", []string{`c.yaml:3: admin_tls needs the admin server, but admin_listen is empty`}},
		{"policies without auth are reported", up + "classes:\n  email: {}\npolicies:\n  default: {actions: {email: sealed}}\n", []string{`c.yaml:4: policies needs an auth section`}},
		{"an unknown key in auth is reported at its line", up + "auth:\n  issuer: https://issuer.example\n  client_ids: [a]\n  isuer: x\n", []string{`c.yaml:5: unknown key "isuer" in auth`}},
		{"a policy naming an unknown class is reported at its line", up + "classes:\n  email: {}\nauth: {issuer: https://issuer.example, client_ids: [a]}\npolicies:\n  callers:\n    - id: billing\n      match: {client_ids: [a]}\n      actions: {phone: decrypt}\n", []string{`c.yaml:9: caller "billing": unknown class "phone" in actions`}},
		{"an auth section that fails its check is reported at the section", up + "auth:\n  issuer: https://issuer.example\n", []string{`c.yaml:2: auth: invalid auth configuration: at least one of audiences or client_ids is required`}},
		{"an empty auth section is refused, not read as no auth", up + "auth:\n", []string{`c.yaml:2: auth must be a mapping`}},
		{"an empty mask is refused, not read as no mask", up + "classes:\n  email:\n    mask:\n", []string{`c.yaml:4: class "email": mask: format is required`}},
		{"an unknown key in a mask is reported at its line", up + "classes:\n  email:\n    mask: {format: custom, keep_middle: 1}\n", []string{`c.yaml:4: unknown key "keep_middle" in classes.email.mask`}},
		{"a bad write in a policy is reported at its line", up + "classes:\n  email: {}\nauth: {issuer: https://issuer.example, client_ids: [a]}\npolicies:\n  default:\n    write: some\n", []string{`c.yaml:7: policies.default.write: want all, none or a list of classes, not "some"`}},
		{"an audit file sink without a file is reported", up + "audit: {sink: file}\n", []string{`c.yaml:2:`}},
		{"a bad class name is reported", up + "classes:\n  E Mail: {}\n", []string{`c.yaml:3: class name "E Mail"`}},
		{"a repeated class is reported", up + "classes:\n  email: {}\n  email: {}\n", []string{`c.yaml:4: key "email" repeated in classes (first at line 3)`}},
		{"routes that are not a list are reported", up + "routes: {a: 1}\n", []string{"c.yaml:2: routes must be a list"}},
		{"a route without a name is reported", up + "routes:\n  - methods: [GET]\n    paths: [/x]\n    response: [{path: a, class: e}]\n", []string{"c.yaml:3: routes[0] has no name"}},
		{"a route without methods is reported", route("    paths: [/x]\n    response: [{path: a, class: e}]\n"), []string{`c.yaml:4: route "r" has no methods`}},
		{"a route with an empty method list is reported", route("    methods: []\n    paths: [/x]\n    response: [{path: a, class: e}]\n"), []string{"c.yaml:5: routes[0].methods is empty"}},
		{"a lower-case method is reported at its line", route("    methods:\n      - GET\n      - post\n    paths: [/x]\n    response: [{path: a, class: e}]\n"), []string{`c.yaml:7: routes[0].methods: "post" is not an HTTP method`}},
		{"a route with null methods is reported", route("    methods:\n    paths: [/x]\n    response: [{path: a, class: e}]\n"), []string{"c.yaml:5: routes[0].methods is empty"}},
		{"a repeated method is reported", route("    methods: [GET, GET]\n    paths: [/x]\n    response: [{path: a, class: e}]\n"), []string{"c.yaml:5: routes[0].methods: GET listed twice"}},
		{"a route without paths is reported", route("    methods: [GET]\n    response: [{path: a, class: e}]\n"), []string{`c.yaml:4: route "r" has no paths`}},
		{"a route with an empty path list is reported", route("    methods: [GET]\n    paths: []\n    response: [{path: a, class: e}]\n"), []string{"c.yaml:6: routes[0].paths is empty; list at least one path pattern"}},
		{"a relative path pattern is reported", route("    methods: [GET]\n    paths:\n      - x/y\n    response: [{path: a, class: e}]\n"), []string{`c.yaml:7: routes[0].paths: "x/y" must start with /`}},
		{"a route without fields is reported", route("    methods: [GET]\n    paths: [/x]\n"), []string{`c.yaml:4: route "r" protects no fields`}},
		{"a route with empty field lists is reported", route("    methods: [GET]\n    paths: [/x]\n    request: []\n    response:\n"), []string{`c.yaml:4: route "r" protects no fields`}},
		{"a field without class is reported", route("    methods: [GET]\n    paths: [/x]\n    response:\n      - {path: a}\n"), []string{"c.yaml:8: routes[0].response[0] has no class"}},
		{"a field without path is reported", route("    methods: [GET]\n    paths: [/x]\n    request:\n      - class: email\n"), []string{"c.yaml:8: routes[0].request[0] has no path"}},
		{"an unknown field key is reported", route("    methods: [GET]\n    paths: [/x]\n    response:\n      - {path: a, class: e, mask: y}\n"), []string{`c.yaml:8: unknown key "mask" in routes[0].response[0]`}},
		{"an unknown route key is reported", route("    methods: [GET]\n    paths: [/x]\n    response: [{path: a, class: e}]\n    fields: []\n"), []string{`c.yaml:8: unknown key "fields" in routes[0]`}},
		{"an unquoted {id} in a flow list is explained", route("    methods: [GET]\n    paths: [/x, /x/{id}]\n    response: [{path: a, class: e}]\n"),
			[]string{`c.yaml:6: invalid YAML near here: did not find expected ',' or ']'; quote list items that contain { or [, such as "/customers/{id}"`}},
		{"a {id} mapping in a block list is explained", route("    methods: [GET]\n    paths:\n      - {id}\n    response: [{path: a, class: e}]\n"),
			[]string{"c.yaml:7: routes[0].paths must be a string, not a mapping; quote values that contain { or ["}},
		{"a bad context header is reported", route("    methods: [GET]\n    paths: [/x]\n    context: {header: \"X Tenant\"}\n    response: [{path: a, class: e}]\n"), []string{`c.yaml:7: routes[0].context.header: "X Tenant" is not a valid header name`}},
		{"every problem is reported at once", up + "lissen: x\nlimits: {upstream_timeout: soon}\nlog: {format: xml}\n",
			[]string{`c.yaml:2: unknown key "lissen"`, `c.yaml:3: limits.upstream_timeout: "soon"`, `c.yaml:4: log.format is "xml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "c.yaml")
			sidecartest.WantFileProblems(t, err, "c.yaml", tt.want)
		})
	}
}

func TestLoadMissingFileNamesIt(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	if err == nil || !strings.Contains(err.Error(), `read config "testdata/nope.yaml"`) {
		t.Errorf("Load error = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("upstream: http://127.0.0.1:3000\n"))
	f.Add([]byte("routes:\n  - name: r\n    methods: [GET]\n    paths: [/x]\n    response: [{path: a, class: e}]\n"))
	f.Add([]byte("classes: {e: &m {mode: deterministic}, f: *m}\nlimits: {max_body_bytes: 1MiB}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "f.yaml")
		if err == nil {
			if cfg.Upstream == "" || cfg.File != "f.yaml" {
				t.Fatalf("accepted config without upstream: %+v", cfg)
			}
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "f.yaml:") {
				t.Fatalf("problem %q does not start with the file name", line)
			}
		}
	})
}
