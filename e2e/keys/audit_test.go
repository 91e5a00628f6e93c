package keyse2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyCommandsAndCLITransformsAreAudited runs key administration and CLI
// encrypt/decrypt with an audit section in the config, then checks the
// trail with `fieldseal audit verify`: one event per command, chained.
func TestKeyCommandsAndCLITransformsAreAudited(t *testing.T) {
	cfg, _, flags := localSetup(t) // keys init ran before the audit section existed
	trail := filepath.Join(t.TempDir(), "audit.log")
	b, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(b, []byte("audit:\n  sink: file\n  file: "+trail+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := func(args ...string) []string { return append(append([]string{"keys"}, args...), flags...) }
	mustRun(t, "", keys("rotate")...)
	v2 := seal(t, cfg, "secret-person@example.com")
	if pt, code, errOut := open(t, cfg, v2); pt != "secret-person@example.com" {
		t.Fatalf("decrypt: exit %d %s", code, errOut)
	}
	mustRun(t, "", keys("verify")...)
	mustRun(t, "", keys("backup", "--out", filepath.Join(t.TempDir(), "b.json"))...)
	mustRun(t, "", keys("rotate-lookup")...) // v1, the lookup version, may go only once it moved
	// No sidecar serves this ring: no grace period after the rotation.
	mustRun(t, "", keys("retire", "1", "--grace", "0s")...)
	mustRun(t, "", keys("destroy", "1", "--yes", "--grace", "0s")...)
	if code, _, _ := fieldseal(t, "", keys("destroy", "2", "--yes")...); code == 0 {
		t.Fatal("the primary was destroyed")
	}
	mustRun(t, "", keys("status")...) // reads no key: not audited

	log, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	text := string(log)
	t.Run("audit verify accepts the chain the commands wrote", func(t *testing.T) {
		if out := mustRun(t, "", "audit", "verify", trail); out == "" {
			t.Log("audit verify printed nothing")
		}
	})
	t.Run("every key command and every encrypt/decrypt left its event", func(t *testing.T) {
		for _, want := range []string{
			`"type":"key","caller":"cli"`,
			`"outcome":"admin_rotate"`, `"outcome":"admin_verify"`, `"outcome":"admin_backup"`,
			`"outcome":"admin_rotate-lookup"`, `"outcome":"admin_retire"`, `"key_ids":[1],"primary":2`,
			`"route":"w","method":"CLI ENCRYPT","key_ids":[2]`,
			`"route":"w","method":"CLI DECRYPT","key_ids":[2]`,
			`"outcome":"admin_destroy","latency_ms"`,
			`"outcome":"admin_destroy","latency_ms"`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("the trail lacks %s:\n%s", want, text)
			}
		}
		if n := strings.Count(text, `"outcome":"admin_destroy"`); n != 2 {
			t.Errorf("%d destroy events, want 2 (one refused)", n)
		}
		if !strings.Contains(text, `"reason":"failed"`) {
			t.Error("the refused destroy is not marked failed")
		}
		if strings.Contains(text, "admin_status") {
			t.Error("keys status was audited")
		}
	})
	t.Run("the trail holds no plaintext and no sealed value", func(t *testing.T) {
		if strings.Contains(text, "secret-person") || strings.Contains(text, "fs1:") {
			t.Fatalf("the trail leaks a value:\n%s", text)
		}
	})
	t.Run("an edited trail fails audit verify", func(t *testing.T) {
		edited := filepath.Join(t.TempDir(), "edited.log")
		os.WriteFile(edited, []byte(strings.Replace(text, "admin_destroy", "admin_rotate", 1)), 0o600)
		if code, _, _ := fieldseal(t, "", "audit", "verify", edited); code == 0 {
			t.Fatal("an edited trail verified")
		}
	})
}

func TestCLIAuditOnStdoutSinkKeepsTheDocumentClean(t *testing.T) {
	cfg, _, _ := localSetup(t)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("audit:\n  sink: stdout\n")...), 0o600)
	code, out, errOut := fieldseal(t, `{"email":"a@example.com"}`, "encrypt", "--config", cfg, "--route", "w")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, `{"email":"fs1:`) {
		t.Fatalf("encrypt: exit %d stdout %q", code, out)
	}
	if !strings.Contains(errOut, `"method":"CLI ENCRYPT"`) {
		t.Fatalf("the audit event is not on stderr: %s", errOut)
	}
}
