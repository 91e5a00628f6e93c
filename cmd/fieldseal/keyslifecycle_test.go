package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/internal/motoserver"
)

// mustRun runs the command line args in this process, as the binary does,
// and fails the test unless it exits 0; it returns what it printed.
func mustRun(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runCmd(t, "", args...)
	if code != 0 {
		t.Fatalf("fieldseal %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout, stderr
}

// localRingWithTrail makes a config (audit sink stdout: the events go to
// the command's stderr) and a local ring under dir/keys with versions 1
// and 2, v2 primary and lookup version, so that v1 may be retired,
// destroyed or put below the minimum. It returns the config and ring paths.
func localRingWithTrail(t *testing.T) (cfg, ring string) {
	t.Helper()
	dir, cfg := writeConfig(t, "upstream: http://127.0.0.1:3000\n"+checkKeys+"audit:\n  sink: stdout\n")
	ring = filepath.Join(dir, "keys/ring.json")
	mk, _ := mustRun(t, "keys", "master-key")
	if err := os.MkdirAll(filepath.Dir(ring), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys/master.key"), []byte(mk), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"init", "rotate", "rotate-lookup"} {
		mustRun(t, "keys", sub, "--config", cfg)
	}
	return cfg, ring
}

// ringDirTakenAway is the stderr of a command whose audit sink is stdout:
// it keeps what it is given, and when it takes the first key event (the
// one a change writes before writing the ring) it moves the ring's
// directory away, so that the ring write that follows fails, as a lost
// volume would make it.
type ringDirTakenAway struct {
	bytes.Buffer
	dir   string
	moved error // the rename's result once done
	done  bool
}

func (w *ringDirTakenAway) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if !w.done && bytes.Contains(p, []byte(`"type":"key"`)) {
		w.done = true
		w.moved = os.Rename(w.dir, w.dir+".gone")
	}
	return n, err
}

// Every lifecycle change of a local ring whose ring write fails after its
// event was written gets a second event, marked failed, for the same
// revision, through the command line's own path (runKeysLifecycle,
// lifecycleLocal, finishChange): the trail says the change was tried and not
// made, and the ring is as it was.
func TestLifecycleChangeWhoseRingWriteFailsGetsAFailedEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string // after "keys"; --config is added
	}{
		{"retire", []string{"retire", "1", "--grace", "0s"}},
		{"min-version", []string{"min-version", "2", "--grace", "0s"}},
		{"destroy", []string{"destroy", "1", "--yes", "--grace", "0s"}},
		{"rewrap", []string{"rewrap", "--new-master-key-file", "NEW"}},
	} {
		t.Run(tc.name+" that fails to write its ring is audited as failed", func(t *testing.T) {
			cfg, ring := localRingWithTrail(t)
			before := fileRevision(t, ring)
			args := append([]string{"keys"}, tc.args...)
			if i := slices.Index(args, "NEW"); i >= 0 {
				newMK, _ := mustRun(t, "keys", "master-key")
				args[i] = filepath.Join(filepath.Dir(cfg), "new-master.key")
				if err := os.WriteFile(args[i], []byte(newMK), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args = append(args, "--config", cfg)
			var stdout bytes.Buffer
			stderr := &ringDirTakenAway{dir: filepath.Dir(ring)}
			code := run(args, strings.NewReader(""), &stdout, stderr)
			if !stderr.done || stderr.moved != nil {
				t.Fatalf("the ring directory was not moved after the change's event (moved: %v); stderr %q", stderr.moved, stderr.String())
			}
			if code != 1 || !strings.Contains(stderr.String(), "does not exist") {
				t.Fatalf("exit %d, stderr %q; want 1 and the failed ring write", code, stderr.String())
			}
			if got := fileRevision(t, filepath.Join(filepath.Dir(ring)+".gone", filepath.Base(ring))); got != before {
				t.Fatalf("ring revision %s after the failed change, want it unchanged (%s)", got, before)
			}
			evs := keyEvents(t, stderr.Bytes(), true)
			outcome := "admin_" + tc.name
			if len(evs) != 2 || evs[0].Outcome != outcome || evs[1].Outcome != outcome {
				t.Fatalf("events %+v; want two %s events: the change, then the change marked failed", evs, outcome)
			}
			if evs[0].Reason != "" || evs[1].Reason != "failed" {
				t.Errorf("reasons %q, %q; want \"\" then \"failed\"", evs[0].Reason, evs[1].Reason)
			}
			if evs[0].Revision == "" || evs[0].Revision == before || evs[1].Revision != evs[0].Revision {
				t.Errorf("revisions %q, %q (ring %q); want both the revision the change would have written", evs[0].Revision, evs[1].Revision, before)
			}
			if evs[1].Primary != 2 || !slices.Equal(evs[1].KeyIDs, evs[0].KeyIDs) {
				t.Errorf("failed event %+v; want primary v2 and the versions of the change's event %v", evs[1], evs[0].KeyIDs)
			}
			// The trail is one chain: the change's event and its failure.
			trail := filepath.Join(t.TempDir(), "audit.log")
			var lines []byte
			for line := range bytes.Lines(stderr.Bytes()) {
				if bytes.HasPrefix(line, []byte("{")) {
					lines = append(lines, line...)
				}
			}
			if err := os.WriteFile(trail, lines, 0o600); err != nil {
				t.Fatal(err)
			}
			if rep, err := audit.VerifyFiles([]string{trail}); err != nil {
				t.Fatalf("audit verify: %v (%v)", err, rep)
			}
		})
	}
}

// A rotation is audited with the ring it leaves: a rotation that rotates
// names the new primary, the new ring's revision and every version; one
// that is not due (rotate --if-older-than) says so, with the ring as it
// stays.
func TestRotateEventNamesTheRing(t *testing.T) {
	dir, cfg := writeConfig(t, "")
	trail := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(cfg, []byte("upstream: http://127.0.0.1:3000\n"+checkKeys+"audit:\n  sink: file\n  file: "+trail+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(dir, "keys/ring.json")
	mk, _ := mustRun(t, "keys", "master-key")
	if err := os.MkdirAll(filepath.Dir(ring), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys/master.key"), []byte(mk), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "keys", "init", "--config", cfg)
	mustRun(t, "keys", "rotate", "--config", cfg)
	rotated := fileRevision(t, ring)
	out, _ := mustRun(t, "keys", "rotate", "--if-older-than", "90d", "--config", cfg)
	if !strings.Contains(out, "rotated: no") || fileRevision(t, ring) != rotated {
		t.Fatalf("rotate --if-older-than 90d on a new ring: %q, and the ring changed: want no rotation", out)
	}
	evs := readKeyEvents(t, trail)
	if len(evs) != 3 {
		t.Fatalf("%d key events, want init, rotate, and the rotation not due: %+v", len(evs), evs)
	}
	for i, want := range []struct {
		outcome, reason string
	}{{"admin_rotate", ""}, {"admin_rotate", reasonNotDue}} {
		got := evs[i+1]
		if got.Outcome != want.outcome || got.Reason != want.reason || got.Primary != 2 || got.Revision != rotated ||
			!slices.Equal(got.KeyIDs, []uint32{1, 2}) {
			t.Errorf("event %d: %+v; want %s, reason %q, primary v2, revision %s, versions [1 2]", i+1, got, want.outcome, want.reason, rotated)
		}
	}
}

// A lifecycle change that finds nothing to change (retiring a retired
// version of an aws ring, which then writes no new secret version) records
// one event, from the ring it read: its primary, its revision (the secret
// version it left current) and the version named.
func TestLifecycleChangeThatChangesNothingIsAuditedWithTheRing(t *testing.T) {
	url := motoserver.FromEnv(t, motoserver.EnvURL)
	const region = "us-east-1"
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "no-aws-credentials"))
	cmk, _ := motoserver.CreateCMK(t, motoserver.KMS(url, region, nil))
	secret := fmt.Sprintf("fieldseal-cmd/%d", time.Now().UnixNano())
	dir := t.TempDir()
	trail := filepath.Join(dir, "audit.log")
	cfg := filepath.Join(dir, "fieldseal.yaml")
	yaml := fmt.Sprintf("upstream: http://127.0.0.1:3000\naudit:\n  sink: file\n  file: %s\nkeys:\n  provider: aws\n  aws:\n    region: %s\n"+
		"    kms_key_id: %s\n    secret_id: %s\n    endpoint: %s\n    cmk_check_interval: 0s\n", trail, region, cmk, secret, url)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init"}, {"rotate"}, {"rotate-lookup"}, {"retire", "1", "--grace", "0s"}} {
		mustRun(t, append(append([]string{"keys"}, args...), "--config", cfg)...)
	}
	current := secretVersion(t, motoserver.SecretsManager(url, region, nil), secret)
	mustRun(t, "keys", "retire", "1", "--grace", "0s", "--config", cfg)
	if again := secretVersion(t, motoserver.SecretsManager(url, region, nil), secret); again != current {
		t.Fatalf("retiring a retired version wrote secret version %s over %s; want nothing written", again, current)
	}
	evs := readKeyEvents(t, trail)
	if len(evs) != 5 {
		t.Fatalf("%d key events, want init, rotate, rotate-lookup, retire, and one for the retire that changed nothing: %+v", len(evs), evs)
	}
	if got := evs[4]; got.Outcome != "admin_retire" || got.Reason != "" || got.Primary != 2 || got.Revision != current ||
		!slices.Equal(got.KeyIDs, []uint32{1}) {
		t.Errorf("event of the retire that changed nothing: %+v; want admin_retire, primary v2, revision %s, versions [1]", got, current)
	}
}

// secretVersion is the version id of the secret id's current value, read
// through sm: the test's own view of the store.
func secretVersion(t *testing.T, sm *secretsmanager.Client, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("read secret %s: %v", id, err)
	}
	return aws.ToString(out.VersionId)
}
