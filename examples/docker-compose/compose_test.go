package compose_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	k8syaml "sigs.k8s.io/yaml"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/fieldmap"
)

// composeFile is the subset of the Compose specification the example uses.
// Decoding is strict, so a misspelt key in compose.yaml fails the test.
type composeFile struct {
	Name     string             `json:"name"`
	Services map[string]service `json:"services"`
	Volumes  map[string]any     `json:"volumes"`
	// x- extension fields hold YAML anchors only.
	XAWSEmulatorEnv map[string]string `json:"x-aws-emulator-env"`
}

type service struct {
	Image       string               `json:"image"`
	Build       *build               `json:"build"`
	DependsOn   map[string]dependsOn `json:"depends_on"`
	Environment map[string]string    `json:"environment"`
	Entrypoint  []string             `json:"entrypoint"`
	Command     []string             `json:"command"`
	WorkingDir  string               `json:"working_dir"`
	Volumes     []string             `json:"volumes"`
	Ports       []string             `json:"ports"`
	ReadOnly    bool                 `json:"read_only"`
	User        string               `json:"user"`
	CapDrop     []string             `json:"cap_drop"`
	SecurityOpt []string             `json:"security_opt"`
	Healthcheck *struct {
		Test     []string `json:"test"`
		Interval string   `json:"interval"`
		Timeout  string   `json:"timeout"`
		Retries  int      `json:"retries"`
	} `json:"healthcheck"`
}

type build struct {
	Context    string            `json:"context"`
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target"`
	Args       map[string]string `json:"args"`
}

type dependsOn struct {
	Condition string `json:"condition"`
}

// fieldsealEnv lists every environment variable a fieldseal container may be
// given here, with what reads it. Anything else would be silently ignored.
var fieldsealEnv = map[string]string{
	"AWS_ACCESS_KEY_ID":     "AWS SDK default credential chain (crypto/awskeys)",
	"AWS_SECRET_ACCESS_KEY": "AWS SDK default credential chain (crypto/awskeys)",
	"AWS_SESSION_TOKEN":     "AWS SDK default credential chain (crypto/awskeys)",
	"AWS_REGION":            "AWS SDK default config (crypto/awskeys)",
	"FIELDSEAL_MASTER_KEY":  "keys.local.master_key_env default (crypto/localkeys)",
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := k8syaml.UnmarshalStrict(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml has no services")
	}
	return c
}

func isFieldseal(s service) bool { return strings.HasPrefix(s.Image, "fieldseal:") }

// mount splits "src:dst[:mode]".
func mount(v string) (src, dst string, ro bool) {
	parts := strings.Split(v, ":")
	if len(parts) >= 2 {
		src, dst = parts[0], parts[1]
	}
	return src, dst, len(parts) == 3 && parts[2] == "ro"
}

// containerPort returns the container side of a "host_ip:host:container" entry.
func containerPort(t *testing.T, p string) int {
	t.Helper()
	parts := strings.Split(p, ":")
	n, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil {
		t.Fatalf("port %q: %v", p, err)
	}
	return n
}

func portOf(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("address %q: %v", hostport, err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func TestComposeFile(t *testing.T) {
	c := loadCompose(t)

	t.Run("every depends_on names a service with a valid condition", func(t *testing.T) {
		for name, s := range c.Services {
			for dep, d := range s.DependsOn {
				target, ok := c.Services[dep]
				if !ok {
					t.Errorf("service %s depends on unknown service %s", name, dep)
					continue
				}
				switch d.Condition {
				case "service_started", "service_completed_successfully":
				case "service_healthy":
					if target.Healthcheck == nil {
						t.Errorf("service %s waits for %s to be healthy, but it has no healthcheck", name, dep)
					}
				default:
					t.Errorf("service %s: depends_on %s condition %q", name, dep, d.Condition)
				}
			}
		}
	})
	t.Run("every volume is a declared named volume or an existing file here", func(t *testing.T) {
		for name, s := range c.Services {
			for _, v := range s.Volumes {
				src, dst, _ := mount(v)
				if src == "" || dst == "" {
					t.Errorf("service %s: volume %q is not src:dst", name, v)
					continue
				}
				if strings.HasPrefix(src, ".") {
					if _, err := os.Stat(src); err != nil {
						t.Errorf("service %s mounts %s, which does not exist in examples/docker-compose: %v", name, src, err)
					}
				} else if _, ok := c.Volumes[src]; !ok {
					t.Errorf("service %s uses volume %s, not declared under volumes", name, src)
				}
			}
		}
	})
	t.Run("fieldseal images are built from the repository Dockerfile", func(t *testing.T) {
		for name, s := range c.Services {
			if !isFieldseal(s) {
				continue
			}
			if s.Build == nil {
				t.Errorf("service %s uses %s without a build section", name, s.Image)
				continue
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: build %s/%s: %v", name, s.Build.Context, s.Build.Dockerfile, err)
			}
			if s.Build.Target != "sidecar" {
				t.Errorf("service %s: build target %q, want the Dockerfile's sidecar stage", name, s.Build.Target)
			}
			if !s.ReadOnly || s.User != "65532:65532" {
				t.Errorf("service %s: read_only=%v user=%q, want a read-only root filesystem as uid 65532", name, s.ReadOnly, s.User)
			}
		}
	})
	t.Run("fieldseal containers get only environment variables fieldseal reads", func(t *testing.T) {
		for name, s := range c.Services {
			if !isFieldseal(s) {
				continue
			}
			for k := range s.Environment {
				if _, ok := fieldsealEnv[k]; !ok {
					t.Errorf("service %s sets %s, which nothing in fieldseal reads", name, k)
				}
			}
		}
	})

	fs, ok := c.Services["fieldseal"]
	if !ok {
		t.Fatal("no fieldseal service")
	}
	cfgPath := argAfter(fs.Command, "--config")
	var hostConfig string
	for _, v := range fs.Volumes {
		if src, dst, ro := mount(v); dst == cfgPath {
			if !ro {
				t.Errorf("config %s is mounted writable", dst)
			}
			hostConfig = src
		}
	}
	if cfgPath == "" || hostConfig == "" {
		t.Fatalf("fieldseal serve --config %q is not a mounted file", cfgPath)
	}
	cfg := loadExampleConfig(t, hostConfig)

	t.Run("fieldseal publishes exactly its listen and admin ports", func(t *testing.T) {
		var got []int
		for _, p := range fs.Ports {
			got = append(got, containerPort(t, p))
		}
		want := []int{portOf(t, cfg.Listen), portOf(t, cfg.AdminListen)}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("published container ports %v, want listen and admin_listen %v", got, want)
		}
	})
	t.Run("the upstream is the app service on the port json-server listens on", func(t *testing.T) {
		u, err := url.Parse(cfg.Upstream)
		if err != nil {
			t.Fatal(err)
		}
		app, ok := c.Services[u.Hostname()]
		if !ok {
			t.Fatalf("upstream host %q is not a service", u.Hostname())
		}
		cmd := strings.Join(app.Command, " ")
		if !strings.Contains(cmd, "--port "+u.Port()) || !strings.Contains(cmd, "json-server@0.17.4") {
			t.Errorf("app command %q does not run json-server 0.17.4 on port %s", cmd, u.Port())
		}
		if _, ok := fs.DependsOn[u.Hostname()]; !ok {
			t.Errorf("fieldseal does not depend on its upstream %s", u.Hostname())
		}
	})
	t.Run("the KMS endpoint is the moto service and the CMK alias is the one kms-setup creates", func(t *testing.T) {
		u, err := url.Parse(cfg.Keys.AWS.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Services[u.Hostname()]; !ok || !strings.HasPrefix(c.Services[u.Hostname()].Image, "motoserver/moto:") {
			t.Errorf("keys.aws.endpoint host %q is not the moto service", u.Hostname())
		}
		setup := c.Services["kms-setup"]
		script := strings.Join(setup.Command, " ")
		if !strings.Contains(script, "--alias-name "+cfg.Keys.AWS.KMSKeyID) {
			t.Errorf("kms-setup does not create %s", cfg.Keys.AWS.KMSKeyID)
		}
		if setup.Environment["AWS_ENDPOINT_URL"] != cfg.Keys.AWS.Endpoint {
			t.Errorf("kms-setup talks to %q, fieldseal to %q", setup.Environment["AWS_ENDPOINT_URL"], cfg.Keys.AWS.Endpoint)
		}
		if fs.Environment["AWS_REGION"] != cfg.Keys.AWS.Region {
			t.Errorf("AWS_REGION %q differs from keys.aws.region %q", fs.Environment["AWS_REGION"], cfg.Keys.AWS.Region)
		}
	})
	t.Run("keys-init runs keys init on the same config before fieldseal starts", func(t *testing.T) {
		ki := c.Services["keys-init"]
		if !isFieldseal(ki) || !slices.Equal(ki.Command[:2], []string{"keys", "init"}) || argAfter(ki.Command, "--config") != cfgPath {
			t.Errorf("keys-init command = %v", ki.Command)
		}
		if fs.DependsOn["keys-init"].Condition != "service_completed_successfully" {
			t.Errorf("fieldseal does not wait for keys-init to complete")
		}
	})
}

// loadExampleConfig loads the compose example's config with the product's
// own strict loader and field-map compiler, so an unknown key, a bad path or
// an undeclared class fails here exactly as `fieldseal serve` would.
func loadExampleConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := fieldmap.Compile(cfg.FieldMap()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Keys.Provider != config.ProviderAWS || cfg.Keys.AWS.KMSKeyID == "" || cfg.Keys.AWS.SecretID == "" || cfg.Keys.AWS.Region == "" {
		t.Errorf("%s: keys = %+v, want the aws provider with region, kms_key_id and secret_id", path, cfg.Keys)
	}
	return cfg
}
