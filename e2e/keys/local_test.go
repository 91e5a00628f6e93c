// Package keyse2e_test runs the key lifecycle commands through the real
// fieldseal binary built from this repository: seal with `fieldseal
// encrypt`, administer the ring with `fieldseal keys ...`, and open again
// with `fieldseal decrypt` in fresh processes.
package keyse2e_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

var fieldsealBin string

// TestMain builds the binary once; the aws tests' own clients and every
// fieldseal process they start use static test credentials, nothing from
// the developer's machine.
func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithAWSEnv(m, &fieldsealBin, awsRegion)) }

// fieldseal runs the binary and returns its exit code, stdout and stderr.
func fieldseal(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	r := testproc.Exec(t, testproc.Cmd{Stdin: []byte(stdin)}, fieldsealBin, args...)
	return r.Code, string(r.Stdout), string(r.Stderr)
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return string(testproc.MustExec(t, testproc.Cmd{Stdin: []byte(stdin)}, fieldsealBin, args...))
}

// localSetup writes a master key (0600), a config naming ring and key, and
// runs `keys init`. It returns the config path, the ring path and the flags
// every keys command needs.
func localSetup(t *testing.T) (cfg, ring string, flags []string) {
	t.Helper()
	dir := t.TempDir()
	mk := mustRun(t, "", "keys", "master-key")
	mkFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(mkFile, []byte(mk), 0o600); err != nil {
		t.Fatal(err)
	}
	ring = filepath.Join(dir, "ring.json")
	cfg = filepath.Join(dir, "fieldseal.yaml")
	yaml := "upstream: http://127.0.0.1:1\nkeys:\n  provider: local\n  local:\n    ring_file: ring.json\n    master_key_file: master.key\n" +
		"classes:\n  email: { mode: random }\nroutes:\n  - name: w\n    methods: [POST]\n    paths: [/c]\n    request:\n      - { path: email, class: email }\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	flags = []string{"--config", cfg}
	mustRun(t, "", append([]string{"keys", "init"}, flags...)...)
	return cfg, ring, flags
}

// seal seals an e-mail with `fieldseal encrypt` and returns the sealed value.
func seal(t *testing.T, cfg, email string) string {
	t.Helper()
	out := mustRun(t, `{"email":"`+email+`"}`, "encrypt", "--config", cfg, "--route", "w")
	var doc struct{ Email string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !strings.HasPrefix(doc.Email, "fs1:") {
		t.Fatalf("encrypt gave %q (%v)", out, err)
	}
	return doc.Email
}

// open opens a sealed e-mail with `fieldseal decrypt` in a fresh process.
func open(t *testing.T, cfg, sealed string) (string, int, string) {
	t.Helper()
	code, out, errOut := fieldseal(t, `{"email":"`+sealed+`"}`, "decrypt", "--config", cfg, "--route", "w")
	if code != 0 {
		return "", code, errOut
	}
	var doc struct{ Email string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("decrypt gave %q", out)
	}
	return doc.Email, 0, errOut
}

func TestLocalKeyLifecycleThroughTheBinary(t *testing.T) {
	cfg, ring, flags := localSetup(t)
	keys := func(args ...string) []string { return append(append([]string{"keys"}, args...), flags...) }
	v1 := seal(t, cfg, "one@example.com")

	t.Run("new values are XAES-256-GCM (alg 3) and open in a fresh process", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v1, "fs1:"))
		if err != nil || raw[0] != 3 || len(raw) != 6+24+len("one@example.com")+16 {
			t.Fatalf("sealed %s: alg %d, %d bytes, %v", v1, raw[0], len(raw), err)
		}
		if pt, code, errOut := open(t, cfg, v1); pt != "one@example.com" {
			t.Fatalf("decrypt: exit %d %q %s", code, pt, errOut)
		}
	})

	mustRun(t, "", keys("rotate")...)
	v2 := seal(t, cfg, "two@example.com")
	mustRun(t, "", keys("rotate")...)
	v3 := seal(t, cfg, "three@example.com")

	t.Run("restore drill: backup, lose the ring, restore to a new path, old values open", func(t *testing.T) {
		backup := filepath.Join(t.TempDir(), "ring.backup.json")
		mustRun(t, "", keys("backup", "--out", backup)...)
		b, _ := os.ReadFile(backup)
		if !bytes.Contains(b, []byte(`"format": "fieldseal-key-backup/v1"`)) {
			t.Fatalf("backup is not self-describing: %s", b)
		}
		mk, _ := os.ReadFile(filepath.Join(filepath.Dir(ring), "master.key"))
		if bytes.Contains(b, bytes.TrimSpace(mk)) {
			t.Fatal("the backup holds the master key")
		}
		saved, _ := os.ReadFile(ring)
		if err := os.Remove(ring); err != nil {
			t.Fatal(err)
		}
		if _, code, _ := open(t, cfg, v1); code == 0 {
			t.Fatal("a value opened without a ring")
		}
		moved := filepath.Join(t.TempDir(), "restored.json")
		mustRun(t, "", keys("restore", "--from", backup, "--ring", moved)...)
		mustRun(t, "", keys("restore", "--from", backup)...) // the original path
		for v, want := range map[string]string{v1: "one@example.com", v2: "two@example.com", v3: "three@example.com"} {
			if pt, code, errOut := open(t, cfg, v); pt != want {
				t.Fatalf("after restore: exit %d %q %s", code, pt, errOut)
			}
		}
		if got, _ := os.ReadFile(moved); !bytes.Equal(got, saved) {
			t.Fatal("the ring restored to a new path differs from the original")
		}
		t.Run("a damaged backup is refused", func(t *testing.T) {
			var m map[string]any
			json.Unmarshal(b, &m)
			ringBytes, _ := base64.StdEncoding.DecodeString(m["ring"].(string))
			m["ring"] = base64.StdEncoding.EncodeToString(bytes.Replace(ringBytes, []byte(`"primary": 3`), []byte(`"primary": 2`), 1))
			bad, _ := json.Marshal(m)
			f := filepath.Join(t.TempDir(), "bad.json")
			os.WriteFile(f, bad, 0o600)
			if code, _, errOut := fieldseal(t, "", keys("restore", "--from", f, "--ring", filepath.Join(t.TempDir(), "x.json"))...); code == 0 || !strings.Contains(errOut, "sha256") {
				t.Fatalf("restore of a damaged backup: exit %d %s", code, errOut)
			}
		})
	})

	t.Run("an edited primary is detected before any value is sealed", func(t *testing.T) {
		saved, _ := os.ReadFile(ring)
		defer os.WriteFile(ring, saved, 0o600)
		os.WriteFile(ring, bytes.Replace(saved, []byte(`"primary": 3`), []byte(`"primary": 1`), 1), 0o600)
		wantEditedMetadataRefused(t, cfg, keys, "metadata: ")
	})

	t.Run("verify names a corrupted version; the others still open", func(t *testing.T) {
		saved, _ := os.ReadFile(ring)
		defer os.WriteFile(ring, saved, 0o600)
		if err := os.WriteFile(ring, withV2Corrupted(t, saved, func([]byte) int { return 20 }), 0o600); err != nil {
			t.Fatal(err)
		}
		wantOnlyV2Bad(t, cfg, keys, [3]string{v1, v2, v3})
	})

	t.Run("retire, minimum version and destroy", func(t *testing.T) {
		retireMinimumAndDestroy(t, cfg, keys, [3]string{v1, v2, v3}, func(*testing.T) {})
	})

	t.Run("rewrap moves the ring to a new master key", func(t *testing.T) {
		dir := filepath.Dir(ring)
		newKey := mustRun(t, "", "keys", "master-key")
		newFile := filepath.Join(dir, "new.key")
		os.WriteFile(newFile, []byte(newKey), 0o600)
		mustRun(t, "", keys("rewrap", "--new-master-key-file", newFile)...)
		if _, code, errOut := open(t, cfg, v3); code == 0 || !strings.Contains(errOut, "master key") {
			t.Fatalf("old master key after rewrap: exit %d %s", code, errOut)
		}
		os.Rename(newFile, filepath.Join(dir, "master.key"))
		if pt, code, errOut := open(t, cfg, v3); pt != "three@example.com" {
			t.Fatalf("new master key: exit %d %s", code, errOut)
		}
	})

	t.Run("a master key file readable by group is refused", func(t *testing.T) {
		os.Chmod(filepath.Join(filepath.Dir(ring), "master.key"), 0o640)
		defer os.Chmod(filepath.Join(filepath.Dir(ring), "master.key"), 0o600)
		if _, code, errOut := open(t, cfg, v3); code == 0 || !strings.Contains(errOut, "chmod 600") {
			t.Fatalf("exit %d %s", code, errOut)
		}
	})
}

// retireMinimumAndDestroy runs keys retire, min-version and destroy on a
// ring whose versions 1, 2 and 3 (the primary) sealed v: one@, two@ and
// three@example.com. It checks that the primary cannot be retired, that a
// retired version still opens, that a version below the minimum does not,
// that destroy wants --yes, and that a destroyed version no longer opens
// (and its plaintext is not in the error) while the others do. destroyed
// checks the provider's own store right after the destroy.
func retireMinimumAndDestroy(t *testing.T, cfg string, keys func(...string) []string, v [3]string, destroyed func(*testing.T)) {
	t.Helper()
	if code, _, _ := fieldseal(t, "", keys("retire", "3")...); code != 1 {
		t.Fatal("the primary was retired")
	}
	// The first rotation pinned the lookup version to v1: it moves to the
	// primary before v1 may go below the minimum or be destroyed.
	if code, _, errOut := fieldseal(t, "", keys("min-version", "2")...); code != 1 || !strings.Contains(errOut, "rotate-lookup") {
		t.Fatalf("min-version above the lookup version: exit %d %s", code, errOut)
	}
	mustRun(t, "", keys("rotate-lookup")...)
	// v2 was primary until v3 was created moments ago: sidecars that have
	// not refreshed since may still seal under it, so it is held for a
	// grace period unless the operator says every sidecar moved on.
	if code, _, errOut := fieldseal(t, "", keys("retire", "2")...); code != 1 || !strings.Contains(errOut, "--grace") {
		t.Fatalf("retire right after the rotation away from it: exit %d %s", code, errOut)
	}
	grace := func(args ...string) []string { return keys(append(args, "--grace", "0s")...) }
	mustRun(t, "", grace("retire", "2")...)
	if pt, _, _ := open(t, cfg, v[1]); pt != "two@example.com" {
		t.Fatal("a retired version stopped opening")
	}
	mustRun(t, "", grace("min-version", "2")...)
	if _, code, errOut := open(t, cfg, v[0]); code == 0 || !strings.Contains(errOut, "destroyed") {
		t.Fatalf("v1 below the minimum: exit %d %s", code, errOut)
	}
	mustRun(t, "", keys("min-version", "0")...)
	if code, _, errOut := fieldseal(t, "", keys("destroy", "1")...); code != 1 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("destroy without --yes: exit %d %s", code, errOut)
	}
	if pt, _, _ := open(t, cfg, v[0]); pt != "one@example.com" {
		t.Fatal("v1 stopped opening before it was destroyed")
	}
	mustRun(t, "", grace("destroy", "1", "--yes")...)
	destroyed(t)
	pt, code, errOut := open(t, cfg, v[0])
	if code == 0 || pt != "" || !strings.Contains(errOut, "destroyed") || strings.Contains(errOut, "one@example.com") {
		t.Fatalf("v1 after destroy: exit %d %q %s", code, pt, errOut)
	}
	if pt, _, _ := open(t, cfg, v[2]); pt != "three@example.com" {
		t.Fatal("v3 stopped opening")
	}
}

// wantEditedMetadataRefused checks, on a ring whose metadata was edited,
// that encrypt refuses to seal and that keys verify exits 1 with verifyWant
// in its report.
func wantEditedMetadataRefused(t *testing.T, cfg string, keys func(...string) []string, verifyWant string) {
	t.Helper()
	code, _, errOut := fieldseal(t, `{"email":"x@example.com"}`, "encrypt", "--config", cfg, "--route", "w")
	if code == 0 || !strings.Contains(errOut, "metadata failed authentication") {
		t.Fatalf("encrypt with an edited ring: exit %d %s", code, errOut)
	}
	if code, out, _ := fieldseal(t, "", keys("verify")...); code != 1 || !strings.Contains(out, verifyWant) {
		t.Fatalf("verify: exit %d %s", code, out)
	}
}

// withV2Corrupted is the ring JSON with one bit flipped in version 2's
// wrapped key, at the byte at picks.
func withV2Corrupted(t *testing.T, ring []byte, at func(wrapped []byte) int) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ring, &m); err != nil {
		t.Fatal(err)
	}
	k := m["keys"].([]any)[1].(map[string]any) // v2
	w, err := base64.StdEncoding.DecodeString(k["wrapped"].(string))
	if err != nil {
		t.Fatal(err)
	}
	w[at(w)] ^= 1
	k["wrapped"] = base64.StdEncoding.EncodeToString(w)
	edited, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return edited
}

// wantOnlyV2Bad checks, with version 2's wrapped key corrupted, that keys
// verify exits 1 naming v2 bad, and that v1 and v3 (sealed in v) still open.
func wantOnlyV2Bad(t *testing.T, cfg string, keys func(...string) []string, v [3]string) {
	t.Helper()
	code, out, errOut := fieldseal(t, "", keys("verify")...)
	if code != 1 || !strings.Contains(out, "v2\tbad") || !strings.Contains(errOut, "bad versions [2]") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	for i, want := range map[int]string{0: "one@example.com", 2: "three@example.com"} {
		if pt, code, errOut := open(t, cfg, v[i]); pt != want {
			t.Fatalf("v%d with v2 corrupted: exit %d %s", i+1, code, errOut)
		}
	}
}
