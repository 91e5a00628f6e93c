package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// newLocalRing makes a master key and a ring in a new directory and returns
// the directory and the flags that name them.
func newLocalRing(t *testing.T) (dir string, where []string) {
	t.Helper()
	dir = t.TempDir()
	mk := testproc.MustExec(t, testproc.Cmd{}, fieldsealBin, "keys", "master-key")
	if err := os.WriteFile(filepath.Join(dir, "master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	where = []string{"--ring", filepath.Join(dir, "ring.json"), "--master-key-file", filepath.Join(dir, "master.key")}
	testproc.MustExec(t, testproc.Cmd{Dir: dir}, fieldsealBin, append([]string{"keys", "init"}, where...)...)
	return dir, where
}

func keys(t *testing.T, dir string, sub string, where []string, args ...string) testproc.Result {
	t.Helper()
	return fieldseal(t, dir, append(append([]string{"keys", sub}, args...), where...)...)
}

// The text output of the key commands is what an operator reads during a
// rotation or a shredding: it must show every version's lifecycle.
func TestKeysTextShowsTheLifecycle(t *testing.T) {
	dir, where := newLocalRing(t)
	for range 2 {
		testproc.MustExec(t, testproc.Cmd{Dir: dir}, fieldsealBin, append([]string{"keys", "rotate"}, where...)...)
	}

	t.Run("retiring the lookup version is refused, naming rotate-lookup and when it is harmless", func(t *testing.T) {
		res := keys(t, dir, "retire", where, "v1")
		if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("lookup version")) ||
			!bytes.Contains(res.Stderr, []byte("fieldseal keys rotate-lookup --ring")) || !bytes.Contains(res.Stderr, []byte("nothing to re-seal")) {
			t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
		}
	})
	t.Run("rotate-lookup says it is done and warns that deterministic values seal differently", func(t *testing.T) {
		res := keys(t, dir, "rotate-lookup", where)
		out := string(res.Stdout)
		if res.Code != 0 || !strings.Contains(out, "rotate-lookup: done, deterministic values now seal under v3") ||
			!strings.Contains(out, "warning:") || !strings.Contains(out, `"others"`) || !strings.Contains(out, "lookup: v3") {
			t.Errorf("exit %d, stdout %q, stderr %q", res.Code, out, res.Stderr)
		}
		res = keys(t, dir, "rotate-lookup", where)
		if res.Code != 0 || !bytes.Contains(res.Stdout, []byte("nothing changed")) || bytes.Contains(res.Stdout, []byte("warning:")) {
			t.Errorf("second rotate-lookup: exit %d, stdout %q", res.Code, res.Stdout)
		}
	})
	t.Run("retire, min-version and destroy print the lookup version and each version's state", func(t *testing.T) {
		// --grace 0s: no sidecar runs on this ring, so none may still seal
		// under the versions just replaced.
		for _, step := range [][]string{{"retire", "v2", "--grace", "0s"}, {"destroy", "v1", "--yes", "--grace", "0s"}, {"min-version", "v2", "--grace", "0s"}} {
			res := keys(t, dir, step[0], where, step[1:]...)
			if res.Code != 0 || !bytes.Contains(res.Stdout, []byte(step[0]+": done")) || !bytes.Contains(res.Stdout, []byte("lookup: v3")) {
				t.Errorf("keys %v: exit %d, stdout %q, stderr %q", step, res.Code, res.Stdout, res.Stderr)
			}
		}
	})
	t.Run("status shows retired, destroyed, the minimum and the lookup version, and no zero time for a destroyed key", func(t *testing.T) {
		res := keys(t, dir, "status", where[:2])
		out := string(res.Stdout)
		for _, want := range []string{"lookup: v3", "minimum version: v2", "LOOKUP", "STATE"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		rows := map[string]*regexp.Regexp{
			"v1": regexp.MustCompile(`(?m)^v1\s+destroyed\s+destroyed\s+destroyed$`),
			"v2": regexp.MustCompile(`(?m)^v2\s+\S+Z\s+\S+\s+retired$`),
			"v3": regexp.MustCompile(`(?m)^v3\s+\S+Z\s+\S+\s+yes\s+yes\s+active$`),
		}
		for v, re := range rows {
			if !re.MatchString(out) {
				t.Errorf("status row %s does not match %s:\n%s", v, re, out)
			}
		}
		if strings.Contains(out, "0001-01-01") || strings.Contains(out, "2562047h") {
			t.Errorf("status prints a zero creation time:\n%s", out)
		}
	})
}

func TestAMissingMasterKeyPointsAtTheConfigBeforeANewKey(t *testing.T) {
	dir, where := newLocalRing(t)
	noEnv := testproc.Cmd{Dir: dir, Env: []string{"FIELDSEAL_MASTER_KEY="}}
	t.Run("rotate without --config points at --config and warns that a new key cannot open the ring", func(t *testing.T) {
		res := testproc.Exec(t, noEnv, fieldsealBin, "keys", "rotate", where[0], where[1])
		if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("pass --config FILE")) ||
			!bytes.Contains(res.Stderr, []byte("a new master key cannot open an existing ring")) || bytes.Contains(res.Stderr, []byte("keys master-key")) {
			t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
		}
	})
	t.Run("init of a new ring names keys master-key", func(t *testing.T) {
		res := testproc.Exec(t, noEnv, fieldsealBin, "keys", "init", "--ring", filepath.Join(dir, "new", "ring.json"))
		if res.Code != 1 || !bytes.Contains(res.Stderr, []byte("fieldseal keys master-key > master.key")) {
			t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
		}
	})
}

func TestBackupAndRestoreNameTheirFiles(t *testing.T) {
	dir, where := newLocalRing(t)
	out := filepath.Join(dir, "backup.json")
	keys(t, dir, "backup", where, "--out", out)
	t.Run("a second backup to the same name names the backup file and how to name backups", func(t *testing.T) {
		res := keys(t, dir, "backup", where, "--out", out)
		if res.Code != 1 || !bytes.Contains(res.Stderr, []byte(`backup file "`+out+`" exists`)) ||
			bytes.Contains(res.Stderr, []byte("key ring file already exists")) || !bytes.Contains(res.Stderr, []byte("date +%Y%m%dT%H%M%S")) {
			t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
		}
	})
	t.Run("a restore into a directory that does not exist yet creates it, private", func(t *testing.T) {
		ring := filepath.Join(dir, "new", "place", "ring.json")
		res := fieldseal(t, dir, "keys", "restore", "--from", out, "--ring", ring, where[2], where[3])
		if res.Code != 0 || !bytes.Contains(res.Stdout, []byte("restore: done")) {
			t.Fatalf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
		}
		if fi, err := os.Stat(filepath.Dir(ring)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("ring directory: %v, err %v; want mode 0700", fi, err)
		}
		if res := fieldseal(t, dir, "keys", "verify", "--ring", ring, where[2], where[3]); res.Code != 0 {
			t.Errorf("restored ring does not verify: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
		}
	})
}
