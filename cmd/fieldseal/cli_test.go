package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// fieldsealBin is the fieldseal binary built for this package's tests, so
// that what a user sees on stdout, stderr and in the exit status is tested
// as the program gives it.
var fieldsealBin string

// The package is named by a path whose last element names the binary.
func TestMain(m *testing.M) { os.Exit(testproc.RunWithBuild(m, "../fieldseal", &fieldsealBin)) }

// fieldseal runs the built binary in dir with args.
func fieldseal(t *testing.T, dir string, args ...string) testproc.Result {
	t.Helper()
	return testproc.Exec(t, testproc.Cmd{Dir: dir}, fieldsealBin, args...)
}

func TestHelpGoesToStdoutWithExitZero(t *testing.T) {
	asks := [][]string{{"--help"}, {"-h"}, {"help"}, {"config", "--help"}, {"config", "check", "--help"},
		{"keys", "--help"}, {"audit", "--help"}, {"audit", "verify", "--help"}}
	for name := range commands() {
		asks = append(asks, []string{name, "--help"}, []string{name, "-h"})
	}
	for _, sub := range append([]string{"init", "rotate", "status", "master-key"}, lifecycleSubcommands...) {
		asks = append(asks, []string{"keys", sub, "--help"})
	}
	for _, args := range asks {
		res := fieldseal(t, "", args...)
		if res.Code != 0 || !bytes.Contains(res.Stdout, []byte("Usage")) || len(res.Stderr) != 0 {
			t.Errorf("fieldseal %s: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout only",
				strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
		}
	}
	t.Run("a subcommand's help lists its flags once, with -h/--help", func(t *testing.T) {
		out := string(fieldseal(t, "", "keys", "init", "--help").Stdout)
		for _, want := range []string{"-ring FILE", "-if-absent", "-h, --help"} {
			if !strings.Contains(out, want) {
				t.Errorf("keys init --help lacks %q:\n%s", want, out)
			}
		}
		if strings.Count(out, "print this help") != 1 {
			t.Errorf("keys init --help lists the help flag more than once:\n%s", out)
		}
	})
	t.Run("each keys subcommand describes itself", func(t *testing.T) {
		for _, sub := range append([]string{"init", "rotate", "rotate-lookup", "status"}, lifecycleSubcommands...) {
			out := string(fieldseal(t, "", "keys", sub, "--help").Stdout)
			if strings.Contains(out, "Manage the key ring: ") || strings.Contains(out, "Key lifecycle: ") {
				t.Errorf("keys %s --help has a placeholder description:\n%s", sub, out)
			}
		}
	})
	t.Run("a flag error still goes to stderr with exit 2", func(t *testing.T) {
		res := fieldseal(t, "", "keys", "status", "--no-such-flag")
		if res.Code != 2 || len(res.Stdout) != 0 || !bytes.Contains(res.Stderr, []byte("no-such-flag")) || !bytes.Contains(res.Stderr, []byte("Usage")) {
			t.Errorf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
		}
	})
	t.Run("no command at all is a usage error on stderr", func(t *testing.T) {
		if res := fieldseal(t, ""); res.Code != 2 || len(res.Stdout) != 0 || !bytes.Contains(res.Stderr, []byte("Usage")) {
			t.Errorf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
		}
	})
}

// writeConfig writes a config with one class and route into a new
// directory and returns the directory and the config's path.
func writeConfig(t *testing.T, body string) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "fieldseal.yaml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

const checkKeys = "keys:\n  provider: local\n  local:\n    ring_file: keys/ring.json\n    master_key_file: keys/master.key\n"

func TestConfigCheckProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // in stderr
	}{
		{"a misspelled top-level key gets the nearest valid one",
			"upstreem: http://127.0.0.1:3000\n",
			[]string{`fieldseal.yaml:1: unknown key "upstreem" in the top level (did you mean "upstream"?)`}},
		{"a misspelled nested key gets the nearest valid one",
			"upstream: http://127.0.0.1:3000\nkeys:\n  local:\n    ring_fle: r.json\n",
			[]string{`fieldseal.yaml:4: unknown key "ring_fle" in keys.local (did you mean "ring_file"?)`}},
		{"a gjson path with an unclosed bracket is refused at its line",
			"upstream: http://127.0.0.1:3000\nclasses:\n  email: {mode: random}\nroutes:\n  - name: list\n    methods: [GET]\n    paths: [/customers]\n    response:\n      - {path: \"#.email[[\", class: email}\n",
			[]string{`fieldseal.yaml:9:`, `"#.email[["`, "literal in gjson"}},
		{"an index written as in JavaScript is refused with the gjson form",
			"upstream: http://127.0.0.1:3000\nclasses:\n  email: {mode: random}\nroutes:\n  - name: one\n    methods: [GET]\n    paths: [/customers]\n    response:\n      - {path: \"items[0].email\", class: email}\n",
			[]string{`fieldseal.yaml:9:`, "items.0.email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := writeConfig(t, tt.yaml)
			res := fieldseal(t, dir, "config", "check", "fieldseal.yaml")
			if res.Code != 1 {
				t.Errorf("exit %d, want 1; stdout %q", res.Code, res.Stdout)
			}
			for _, w := range tt.want {
				if !bytes.Contains(res.Stderr, []byte(w)) {
					t.Errorf("stderr lacks %q:\n%s", w, res.Stderr)
				}
			}
		})
	}
}

func TestConfigCheckWarnsAboutKeyFilesNotYetMade(t *testing.T) {
	dir, _ := writeConfig(t, "upstream: http://127.0.0.1:3000\n"+checkKeys)
	res := fieldseal(t, dir, "config", "check", "fieldseal.yaml")
	if res.Code != 0 || !bytes.Contains(res.Stdout, []byte("ok (")) || !bytes.Contains(res.Stdout, []byte("2 warnings")) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 with 2 warnings", res.Code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{
		"fieldseal.yaml:6: warning: keys.local.master_key_file", "fieldseal keys master-key > keys/master.key",
		"fieldseal.yaml:5: warning: keys.local.ring_file", "fieldseal keys init --config fieldseal.yaml",
	} {
		if !bytes.Contains(res.Stderr, []byte(want)) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}

	// The commands the warnings name make the files; then the check is clean.
	mk := testproc.MustExec(t, testproc.Cmd{Dir: dir}, fieldsealBin, "keys", "master-key")
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys/master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	testproc.MustExec(t, testproc.Cmd{Dir: dir}, fieldsealBin, "keys", "init", "--config", "fieldseal.yaml")
	res = fieldseal(t, dir, "config", "check", "fieldseal.yaml")
	if res.Code != 0 || len(res.Stderr) != 0 || bytes.Contains(res.Stdout, []byte("warning")) {
		t.Errorf("after keys master-key and keys init: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
}

func TestKeyErrorsNameTheNextStep(t *testing.T) {
	dir, _ := writeConfig(t, "upstream: http://127.0.0.1:3000\n"+checkKeys)
	ring := filepath.Join(dir, "keys/ring.json")

	res := fieldseal(t, dir, "keys", "rotate", "--config", "fieldseal.yaml")
	if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("fieldseal keys master-key > keys/master.key")) {
		t.Errorf("rotate without a master key: exit %d, stderr %q; want the master-key command", res.Code, res.Stderr)
	}

	res = fieldseal(t, dir, "keys", "status", "--ring", ring)
	if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("create the ring with `fieldseal keys init --ring "+ring)) {
		t.Errorf("status of a missing ring: exit %d, stderr %q; want the keys init command", res.Code, res.Stderr)
	}
	res = fieldseal(t, dir, "keys", "status", "--config", "fieldseal.yaml")
	if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("`fieldseal keys init --config fieldseal.yaml`")) {
		t.Errorf("status of a missing ring by config: exit %d, stderr %q; want the keys init command", res.Code, res.Stderr)
	}

	mk := testproc.MustExec(t, testproc.Cmd{}, fieldsealBin, "keys", "master-key")
	if err := os.MkdirAll(filepath.Dir(ring), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys/master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	testproc.MustExec(t, testproc.Cmd{Dir: dir}, fieldsealBin, "keys", "init", "--config", "fieldseal.yaml")
	before, err := os.ReadFile(ring)
	if err != nil {
		t.Fatal(err)
	}

	res = fieldseal(t, dir, "keys", "init", "--config", "fieldseal.yaml")
	if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("`fieldseal keys status --config fieldseal.yaml`")) || !bytes.Contains(res.Stderr, []byte("--if-absent")) {
		t.Errorf("second init: exit %d, stderr %q; want keys status and --if-absent named", res.Code, res.Stderr)
	}
	res = fieldseal(t, dir, "keys", "init", "--if-absent", "--config", "fieldseal.yaml")
	if res.Code != 0 || !bytes.Contains(res.Stdout, []byte("left unchanged")) || !bytes.Contains(res.Stdout, []byte("primary: v1")) {
		t.Errorf("init --if-absent on an existing ring: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	if after, err := os.ReadFile(ring); err != nil || !bytes.Equal(before, after) {
		t.Errorf("init --if-absent changed the ring file (err %v)", err)
	}
}

func TestConfigCheckCountsInWords(t *testing.T) {
	dir, _ := writeConfig(t, "upstream: http://127.0.0.1:3000\nclasses: {email: {}}\nroutes:\n  - name: r\n    methods: [POST]\n    paths: [/c]\n    request: [{path: email, class: email}]\n")
	res := fieldseal(t, dir, "config", "check", "fieldseal.yaml")
	if !bytes.Contains(res.Stdout, []byte("ok (1 class, 1 route, key provider local")) {
		t.Errorf("exit %d, stdout %q, stderr %q; want one class and one route in the singular", res.Code, res.Stdout, res.Stderr)
	}
}
