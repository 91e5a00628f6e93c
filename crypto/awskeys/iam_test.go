package awskeys

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/prometheus/client_golang/prometheus"
)

// The IAM documents in docs/iam are part of the product: these tests keep them
// valid JSON, least-privilege and in step with the calls the code makes.

type policyDoc struct {
	Version   string
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Principal struct{ AWS stringList }
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

// stringList is IAM's "a string or a list of strings".
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = stringList{one}
		return nil
	}
	var many []string
	err := json.Unmarshal(b, &many)
	*s = many
	return err
}

func readPolicy(t *testing.T, name string) policyDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "iam", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var p policyDoc
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) == 0 {
		t.Fatalf("%s: version %q with %d statements", name, p.Version, len(p.Statement))
	}
	return p
}

// allowed lists the actions a policy allows (to anyone).
func allowed(p policyDoc) []string {
	var out []string
	for _, s := range p.Statement {
		if s.Effect == "Allow" {
			out = append(out, s.Action...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// iamActions maps counted SDK calls (service, operation) to IAM actions.
func iamActions(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var svc, op string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "service":
					svc = l.GetValue()
				case "operation":
					op = l.GetValue()
				}
			}
			if op == "ReEncrypt" { // one call, two permissions
				out = append(out, "kms:ReEncryptFrom", "kms:ReEncryptTo")
				continue
			}
			out = append(out, svc+":"+op)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// codeCalls is what the code calls, by role; the emulator test below proves it
// from the call metrics.
var codeCalls = map[string][]string{
	"sidecar-policy.json": {"kms:Decrypt", "kms:ListKeyRotations", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"},
	"rotator-policy.json": {"kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ListKeyRotations", "kms:ReEncryptFrom", "kms:ReEncryptTo",
		"secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds", "secretsmanager:PutSecretValue"},
}

func TestIAMPoliciesGrantExactlyWhatTheCodeCalls(t *testing.T) {
	for name, want := range codeCalls {
		t.Run(name+" allows exactly the calls of its role", func(t *testing.T) {
			if got := allowed(readPolicy(t, name)); !slices.Equal(got, want) {
				t.Fatalf("%s allows %v, the code calls %v", name, got, want)
			}
		})
	}
	t.Run("the sidecar may decrypt only under its ring's encryption context", func(t *testing.T) {
		var ring, legacy bool
		for _, s := range readPolicy(t, "sidecar-policy.json").Statement {
			if !slices.Contains(s.Action, "kms:Decrypt") {
				continue
			}
			keys := s.Condition["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"]
			switch {
			case len(s.Condition["StringEquals"]["kms:EncryptionContext:"+ContextRing]) == 1:
				ring = slices.Equal(keys, []string{ContextMetadata, ContextRing, ContextVersion})
			case len(s.Condition["StringEquals"]["kms:EncryptionContext:"+ContextSecret]) == 1:
				legacy = slices.Equal(keys, []string{ContextSecret, ContextVersion})
			default:
				t.Fatalf("kms:Decrypt is conditioned on neither the ring id nor the secret: %+v", s.Condition)
			}
		}
		if !ring || !legacy {
			t.Fatalf("want one kms:Decrypt statement pinned to the ring id (keys and seal) and one for v1 keys (secret name); ring %v legacy %v", ring, legacy)
		}
	})
	t.Run("in the key policy the rotator can make keys but never decrypt", func(t *testing.T) {
		p := readPolicy(t, "kms-key-policy.json")
		const rotator = "arn:aws:iam::111122223333:role/fieldseal-rotator"
		var allows, denies []string
		for _, s := range p.Statement {
			if !slices.Contains(s.Principal.AWS, rotator) {
				continue
			}
			if s.Effect == "Allow" {
				allows = append(allows, s.Action...)
			} else {
				denies = append(denies, s.Action...)
			}
		}
		if !slices.Contains(allows, "kms:GenerateDataKeyWithoutPlaintext") {
			t.Fatal("the rotator cannot make data keys")
		}
		for _, a := range []string{"kms:Decrypt", "kms:GenerateDataKey"} {
			if slices.Contains(allows, a) || !slices.Contains(denies, a) {
				t.Fatalf("the rotator is not denied %s", a)
			}
		}
	})
}

func TestIAMPoliciesCoverTheCallsMadeOnMoto(t *testing.T) {
	url := motoURL(t)
	ctx := testCtx(t)
	cmk := createCMK(t, url)
	rotatorReg, sidecarReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	secret := uniqueName(t)
	ropts := testOptions(url, secret, cmk, rotatorReg)
	if _, err := Init(ctx, ropts); err != nil {
		t.Fatal(err)
	}
	if _, err := kmsClient(url).RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(cmk)}); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateIfCMKRotated(ctx, ropts); err != nil {
		t.Fatal(err)
	}
	if _, err := Rotate(ctx, ropts); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatus(ctx, ropts); err != nil {
		t.Fatal(err)
	}
	sopts := testOptions(url, secret, "", sidecarReg)
	now := time.Now()
	sopts.Now = func() time.Time { return now }
	sopts.CMKCheckInterval = time.Nanosecond
	p, kr := mustLoad(t, ctx, sopts)
	now = now.Add(time.Second)
	if _, err := p.Changed(ctx, kr); err != nil {
		t.Fatal(err)
	}
	for name, reg := range map[string]*prometheus.Registry{"rotator-policy.json": rotatorReg, "sidecar-policy.json": sidecarReg} {
		if got, want := iamActions(t, reg), codeCalls[name]; !slices.Equal(got, want) {
			t.Errorf("%s: the code called %v, the policy test expects %v", name, got, want)
		}
	}
}
