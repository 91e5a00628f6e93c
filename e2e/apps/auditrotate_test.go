package appse2e_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// Issue 16 item 13: the audit file under log rotation. logrotate's rename
// + SIGHUP, copytruncate and a restart on a rotated-away file each leave a
// set of files that `audit verify` checks as one chain, and a removed file
// or line is still reported.
func TestAuditChainUnderLogRotation(t *testing.T) {
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	sc := start(t, store.URL(), emailMap(route{name: "customers", methods: "POST", paths: "/customers", request: "email"}))
	n := 0
	post := func(t *testing.T) {
		t.Helper()
		n++
		resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"ada@example.com"}`,
			Header: map[string]string{"X-Request-ID": "rotation-" + string(rune('a'+n))}})
		if resp.Status != 201 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		sc.AuditLines(t, `"request_id":"rotation-`+string(rune('a'+n))+`"`)
	}
	audit := sc.AuditFile
	verify := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		res := sc.Exec(t, append([]string{"audit", "verify"}, args...)...)
		var err error
		if res.Code != 0 {
			err = fmt.Errorf("audit verify exited %d", res.Code)
		}
		return string(res.Stdout) + string(res.Stderr), err
	}
	mustVerify := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := verify(t, args...)
		if err != nil {
			t.Fatalf("audit verify %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	post(t)
	post(t)

	// 1. logrotate's default: rename, then SIGHUP.
	if err := os.Rename(audit, audit+".1"); err != nil {
		t.Fatal(err)
	}
	sc.Reload(t)
	testproc.Poll(t, 10*time.Second, func() error { // the new file appears with the reopen
		b, err := os.ReadFile(audit)
		if err == nil && !strings.Contains(string(b), `"reason":"reopened"`) {
			err = errors.New("no reopened start line yet")
		}
		return err
	})
	post(t)
	if b, _ := os.ReadFile(audit + ".1"); strings.Contains(string(b), "rotation-"+string(rune('a'+n))) {
		t.Fatal("after SIGHUP the sidecar still wrote the renamed file")
	}
	if out := mustVerify(t, audit); !strings.Contains(out, "continuing seq") {
		t.Fatalf("the new file alone should verify as a continuation: %s", out)
	}
	mustVerify(t, "--genesis", audit, audit+".1")

	// 2. copytruncate: the file is copied, then emptied under the writer.
	sidecartest.CopyTruncate(t, audit, audit+".2")
	post(t)
	testproc.WaitFileContains(t, audit, 10*time.Second, `"reason":"truncated"`)
	mustVerify(t, audit) // not "broken at line 1"
	mustVerify(t, "--genesis", audit, audit+".1", audit+".2")

	// 3. a restart after the file was rotated away while stopped.
	sc.Proc.Stop()
	if err := os.Rename(audit, audit+".3"); err != nil {
		t.Fatal(err)
	}
	sc.Restart(t)
	post(t)
	files := []string{audit, audit + ".1", audit + ".2", audit + ".3"}
	out := mustVerify(t, append([]string{"--genesis"}, files...)...)
	if !strings.Contains(out, "in 4 file(s)") {
		t.Fatalf("verify summary: %s", out)
	}
	matches, err := filepath.Glob(audit + "*") // the chain state is hidden from the glob
	if err != nil || len(matches) != 4 {
		t.Fatalf("glob %s* = %q, %v", audit, matches, err)
	}
	mustVerify(t, append([]string{"--genesis"}, matches...)...)

	// 4. a removed middle file, and a removed line, are still reported.
	if out, err := verify(t, "--genesis", audit, audit+".1", audit+".3"); err == nil || !strings.Contains(out, audit+".3 line 1") {
		t.Fatalf("a removed middle file passed: %v\n%s", err, out)
	}
	if out, err := verify(t, "--genesis", audit, audit+".2", audit+".3"); err == nil || !strings.Contains(out, "continues from seq") {
		t.Fatalf("a removed first file passed --genesis: %v\n%s", err, out)
	}
	b, err := os.ReadFile(audit + ".1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	cut := strings.Join(append(append([]string{}, lines[:1]...), lines[2:]...), "")
	if err := os.WriteFile(audit+".1", []byte(cut), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(t, files...); err == nil || !strings.Contains(out, audit+".1 line 2") {
		t.Fatalf("a removed line passed: %v\n%s", err, out)
	}
}
