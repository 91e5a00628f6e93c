package keyse2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/internal/motoserver"
)

const awsRegion = "us-east-1"

var secretNames atomic.Int64

// awsRing is one ring on the emulators: the endpoints, a CMK, a secret name
// and a config file the binary reads.
type awsRing struct {
	kmsURL, smURL, cmk, secret string
}

func newAWSRing(t *testing.T, kmsURL, smURL string) *awsRing {
	t.Helper()
	cmk, _ := motoserver.CreateCMK(t, motoserver.KMS(kmsURL, awsRegion, nil))
	return &awsRing{kmsURL: kmsURL, smURL: smURL, cmk: cmk,
		secret: fmt.Sprintf("fieldseal-e2e/%d-%d", time.Now().UnixNano(), secretNames.Add(1))}
}

// secrets is a client for the ring's Secrets Manager.
func (r *awsRing) secrets() *secretsmanager.Client {
	return motoserver.SecretsManager(r.smURL, awsRegion, nil)
}

// config writes a config for secret (the ring's own by default) and returns its path.
func (r *awsRing) config(t *testing.T, secret string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fieldseal.yaml")
	yaml := fmt.Sprintf("audit:\n  sink: file\n  file: %s\n", filepath.Join(dir, "audit.log")) + fmt.Sprintf("upstream: http://127.0.0.1:1\nkeys:\n  provider: aws\n  aws:\n    region: %s\n    kms_key_id: %s\n    secret_id: %s\n"+
		"    kms_endpoint: %s\n    secretsmanager_endpoint: %s\n    cmk_check_interval: 0s\n", awsRegion, r.cmk, secret, r.kmsURL, r.smURL) +
		"classes:\n  email: { mode: random }\nroutes:\n  - name: w\n    methods: [POST]\n    paths: [/c]\n    request:\n      - { path: email, class: email }\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (r *awsRing) secretString(t *testing.T) string {
	t.Helper()
	return motoserver.SecretString(t, r.secrets(), r.secret)
}

func (r *awsRing) putSecret(t *testing.T, s string) {
	t.Helper()
	motoserver.PutSecretString(t, r.secrets(), r.secret, s)
}

func (r *awsRing) forceDelete(t *testing.T) {
	t.Helper()
	motoserver.ForceDeleteSecret(t, r.secrets(), r.secret)
}

// status runs `keys status --json` and returns the version id and ring id.
func status(t *testing.T, cfg string) (versionID, ringID string) {
	t.Helper()
	var st struct {
		VersionID string `json:"version_id"`
		RingID    string `json:"ring_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "keys", "status", "--json", "--config", cfg)), &st); err != nil {
		t.Fatal(err)
	}
	return st.VersionID, st.RingID
}

func TestAWSKeyLifecycleThroughTheBinary(t *testing.T) {
	moto := motoserver.FromEnv(t, motoserver.EnvURL)
	for _, tc := range []struct{ name, kmsURL string }{
		{"moto", moto},
		{"local-kms with moto's secrets manager", motoserver.LocalKMS(t)},
	} {
		t.Run(tc.name, func(t *testing.T) { awsLifecycle(t, newAWSRing(t, tc.kmsURL, moto)) })
	}
}

func awsLifecycle(t *testing.T, r *awsRing) {
	cfg := r.config(t, r.secret)
	keys := func(args ...string) []string { return append(append([]string{"keys"}, args...), "--config", cfg) }
	mustRun(t, "", keys("init")...)
	v1 := seal(t, cfg, "one@example.com")
	mustRun(t, "", keys("rotate")...)
	v2 := seal(t, cfg, "two@example.com")
	mustRun(t, "", keys("rotate")...)
	v3 := seal(t, cfg, "three@example.com")
	all := map[string]string{v1: "one@example.com", v2: "two@example.com", v3: "three@example.com"}
	openAll := func(t *testing.T, cfg string) {
		t.Helper()
		for v, want := range all {
			if pt, code, errOut := open(t, cfg, v); pt != want {
				t.Fatalf("open %s: exit %d %q %s", want, code, pt, errOut)
			}
		}
	}

	t.Run("verify unwraps every version and checks the metadata seal", func(t *testing.T) {
		out := mustRun(t, "", keys("verify")...)
		if !strings.Contains(out, "metadata: ok") || strings.Count(out, "\tok") != 3 {
			t.Fatalf("verify:\n%s", out)
		}
	})

	backup := filepath.Join(t.TempDir(), "ring.backup.json")
	mustRun(t, "", keys("backup", "--out", backup)...)
	oldVersion, ringID := status(t, cfg)

	t.Run("restore drill: backup, force-delete the secret, restore, old values open in fresh processes", func(t *testing.T) {
		b, _ := os.ReadFile(backup)
		if !strings.Contains(string(b), `"format": "fieldseal-key-backup/v1"`) || !strings.Contains(string(b), `"provider": "aws"`) {
			t.Fatalf("backup is not self-describing: %s", b)
		}
		r.forceDelete(t)
		if _, code, _ := open(t, cfg, v1); code == 0 {
			t.Fatal("a value opened without the ring secret")
		}
		mustRun(t, "", keys("restore", "--from", backup)...)
		openAll(t, cfg)
		if _, id := status(t, cfg); id != ringID {
			t.Fatalf("restored ring id %s, want %s", id, ringID)
		}
		if code, _, errOut := fieldseal(t, "", keys("restore", "--from", backup)...); code == 0 || !strings.Contains(errOut, "already exists") {
			t.Fatalf("restore over an existing secret: exit %d %s", code, errOut)
		}
	})

	t.Run("restore to a new secret name opens the old values", func(t *testing.T) {
		other := r.secret + "-restored"
		otherCfg := r.config(t, other)
		mustRun(t, "", "keys", "restore", "--from", backup, "--config", otherCfg)
		openAll(t, otherCfg)
	})

	t.Run("a ring made again under the same name gets a new identity and version id", func(t *testing.T) {
		saved := r.secretString(t)
		r.forceDelete(t)
		mustRun(t, "", keys("init")...)
		newVersion, newRing := status(t, cfg)
		if newVersion == oldVersion || newRing == ringID {
			t.Fatalf("re-created ring: version %s ring %s, the old ring had %s %s", newVersion, newRing, oldVersion, ringID)
		}
		if _, code, errOut := open(t, cfg, v1); code == 0 || strings.Contains(errOut, "one@example.com") {
			t.Fatalf("an old value under the new ring: exit %d %s", code, errOut)
		}
		// Put the old ring back for the tests below.
		r.forceDelete(t)
		motoserver.CreateSecretString(t, r.secrets(), r.secret, saved)
		openAll(t, cfg)
	})

	t.Run("an edited primary is detected before any value is sealed", func(t *testing.T) {
		saved := r.secretString(t)
		defer r.putSecret(t, saved)
		r.putSecret(t, strings.Replace(saved, `"primary":3`, `"primary":1`, 1))
		wantEditedMetadataRefused(t, cfg, keys, "metadata: key ring metadata failed authentication")
	})

	t.Run("verify names a corrupted version; the others still open", func(t *testing.T) {
		saved := r.secretString(t)
		defer r.putSecret(t, saved)
		// The flipped bit is inside the GCM tag of either emulator's ciphertext.
		r.putSecret(t, string(withV2Corrupted(t, []byte(saved), func(w []byte) int { return len(w) - 3 })))
		wantOnlyV2Bad(t, cfg, keys, [3]string{v1, v2, v3})
		if code, _, _ := fieldseal(t, "", keys("backup", "--out", filepath.Join(t.TempDir(), "b.json"))...); code == 0 {
			t.Fatal("a ring with a bad version was backed up")
		}
	})

	t.Run("retire, minimum version and destroy", func(t *testing.T) {
		retireMinimumAndDestroy(t, cfg, keys, [3]string{v1, v2, v3}, func(t *testing.T) {
			if strings.Contains(r.secretString(t), `"id":1,`) {
				t.Fatal("the destroyed version's wrapped key is still in the secret")
			}
		})
		out := mustRun(t, "", keys("rotate")...)
		if !strings.Contains(out, "v4") {
			t.Fatalf("rotate after destroy reused an id:\n%s", out)
		}
	})

	t.Run("every key command and CLI seal/open is in a verified audit trail", func(t *testing.T) {
		trail := filepath.Join(filepath.Dir(cfg), "audit.log")
		mustRun(t, "", "audit", "verify", trail)
		b, _ := os.ReadFile(trail)
		for _, want := range []string{"admin_init", "admin_rotate", "admin_verify", "admin_backup", "admin_restore",
			"admin_rotate-lookup", "admin_retire", "admin_min-version", "admin_destroy", `"method":"CLI ENCRYPT"`, `"method":"CLI DECRYPT"`, `"reason":"key_destroyed"`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("the trail lacks %s", want)
			}
		}
	})
}
