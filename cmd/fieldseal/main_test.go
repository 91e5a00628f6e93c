package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandLine(t *testing.T) {
	t.Run("every command answers --help with exit 0", func(t *testing.T) {
		for name := range commands() {
			if code, stdout, stderr := runCmd(t, "", name, "--help"); code != 0 || !strings.Contains(stdout, "Usage: fieldseal "+name) || stderr != "" {
				t.Errorf("%s --help: exit %d, stdout %q, stderr %q", name, code, stdout, stderr)
			}
		}
	})
	t.Run("an unknown command exits 2 with the usage", func(t *testing.T) {
		if code, _, stderr := runCmd(t, "", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("config check passes the quick start config", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "", "config", "check", "../../examples/quickstart/fieldseal.yaml")
		if code != 0 || !strings.Contains(stdout, "ok (3 classes, 3 routes") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("config check lists every problem with its line and exits 1", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		yaml := "upstream: http://127.0.0.1:3000\nlisten: nowhere\nclasses:\n  email: {mode: secret}\nroutes:\n  - name: r\n    methods: [GET]\n    paths: [/x]\n    response: [{path: email, class: phone}]\n"
		if err := os.WriteFile(bad, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCmd(t, "", "config", "check", bad)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{bad + ":2:", bad + ":4:", bad + ":9:", "problem(s)"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})
	t.Run("keys init, rotate and status manage a local ring without printing key material", func(t *testing.T) {
		dir := t.TempDir()
		code, mk, _ := runCmd(t, "", "keys", "master-key")
		if code != 0 || len(strings.TrimSpace(mk)) < 43 {
			t.Fatalf("master-key: exit %d, %q", code, mk)
		}
		mkFile := filepath.Join(dir, "master.key")
		if err := os.WriteFile(mkFile, []byte(mk), 0o600); err != nil {
			t.Fatal(err)
		}
		ring := filepath.Join(dir, "ring.json")
		flags := []string{"--provider", "local", "--ring", ring, "--master-key-file", mkFile}
		if code, _, stderr := runCmd(t, "", append([]string{"keys", "init"}, flags...)...); code != 0 {
			t.Fatalf("init: exit %d: %s", code, stderr)
		}
		if code, _, stderr := runCmd(t, "", append([]string{"keys", "init"}, flags...)...); code != 1 || !strings.Contains(stderr, "exists") {
			t.Errorf("second init: exit %d: %s", code, stderr)
		}
		if code, _, stderr := runCmd(t, "", append([]string{"keys", "rotate"}, flags...)...); code != 0 {
			t.Fatalf("rotate: exit %d: %s", code, stderr)
		}
		code, status, _ := runCmd(t, "", "keys", "status", "--ring", ring)
		if code != 0 || !strings.Contains(status, "primary: v2") || !strings.Contains(status, "v1") {
			t.Errorf("status: exit %d:\n%s", code, status)
		}
		if strings.Contains(status, strings.TrimSpace(mk)) {
			t.Errorf("status prints the master key")
		}
	})
	t.Run("keys init refuses a missing master key with a clear error", func(t *testing.T) {
		ring := filepath.Join(t.TempDir(), "ring.json")
		t.Setenv("FIELDSEAL_TEST_EMPTY_KEY", "")
		code, _, stderr := runCmd(t, "", "keys", "init", "--ring", ring, "--master-key-env", "FIELDSEAL_TEST_EMPTY_KEY")
		if code != 1 || !strings.Contains(stderr, "FIELDSEAL_TEST_EMPTY_KEY") {
			t.Errorf("exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(ring); err == nil {
			t.Errorf("a ring file was written without a master key")
		}
	})
}
