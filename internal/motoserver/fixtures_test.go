package motoserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

func TestFixturesMakeWhatTheyNameOnTheEmulator(t *testing.T) {
	url := Shared(t)
	k, sm := KMS(url, "us-east-1", nil), SecretsManager(url, "us-east-1", nil)
	keyID, arn := CreateCMK(t, k)
	if keyID == "" || !strings.HasSuffix(arn, ":key/"+keyID) {
		t.Fatalf("CreateCMK = %q, %q; want a key id and its ARN", keyID, arn)
	}
	alias := CreateAlias(t, k, arn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)}); err != nil || aws.ToString(out.KeyMetadata.KeyId) != keyID {
		t.Fatalf("alias %s does not name key %s: %v", alias, keyID, err)
	}
	id := "fieldseal-test/" + strings.ReplaceAll(alias, "/", "_")
	CreateSecretString(t, sm, id, "one")
	if got := SecretString(t, sm, id); got != "one" {
		t.Fatalf("after CreateSecretString: %q, want one", got)
	}
	PutSecretString(t, sm, id, "two")
	if got := SecretString(t, sm, id); got != "two" {
		t.Fatalf("after PutSecretString: %q, want two", got)
	}
	ForceDeleteSecret(t, sm, id)
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}); err == nil {
		t.Fatal("the secret is still readable after ForceDeleteSecret")
	}
}

// Every fixture fails the test it is given, saying what it was doing, when
// the emulator does not answer (here a loopback port nothing listens on),
// instead of returning an empty result or panicking on it.
func TestFixturesFailTheTestWhenTheEmulatorIsDown(t *testing.T) {
	dead := "http://" + testproc.FreeAddr(t)
	// One attempt a call: a refused connection is retried otherwise, which
	// only makes the test slower.
	k := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(dead), Credentials: testCredentials, RetryMaxAttempts: 1})
	sm := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(dead), Credentials: testCredentials, RetryMaxAttempts: 1})
	for _, tc := range []struct {
		fixture, doing string
		call           func(tb testing.TB)
	}{
		{"CreateCMK", "create test CMK: ", func(tb testing.TB) { CreateCMK(tb, k) }},
		{"CreateAlias", "create alias alias/fieldseal-test-", func(tb testing.TB) { CreateAlias(tb, k, "key") }},
		{"SecretString", "read secret s: ", func(tb testing.TB) { SecretString(tb, sm, "s") }},
		{"PutSecretString", "put secret s: ", func(tb testing.TB) { PutSecretString(tb, sm, "s", "text") }},
		{"CreateSecretString", "create secret s: ", func(tb testing.TB) { CreateSecretString(tb, sm, "s", "text") }},
		{"ForceDeleteSecret", "delete secret s: ", func(tb testing.TB) { ForceDeleteSecret(tb, sm, "s") }},
	} {
		t.Run(tc.fixture+" fails the test naming what it did", func(t *testing.T) {
			returned := false
			r := testproc.Record(t, func(tb testing.TB) {
				tc.call(tb)
				returned = true
			})
			if r.Panicked != nil || returned || !strings.HasPrefix(r.Fatal, tc.doing) {
				t.Fatalf("%s against a dead endpoint: failed with %q, panicked with %v, returned %v; want a failure starting %q",
					tc.fixture, r.Fatal, r.Panicked, returned, tc.doing)
			}
		})
	}
}

// SecretString fails the test on a secret that holds no text (only
// SecretBinary), rather than reading it as "".
func TestSecretStringFailsOnABinarySecret(t *testing.T) {
	url := Shared(t)
	sm := SecretsManager(url, "us-east-1", nil)
	id := fmt.Sprintf("fieldseal-test/binary-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretBinary: []byte{0, 1, 2}}); err != nil {
		t.Fatalf("create binary secret: %v", err)
	}
	t.Cleanup(func() { ForceDeleteSecret(t, sm, id) })
	var got string
	r := testproc.Record(t, func(tb testing.TB) { got = SecretString(tb, sm, id) })
	if r.Panicked != nil || !strings.HasPrefix(r.Fatal, "read secret "+id+": ") || !strings.Contains(r.Fatal, "no string value") {
		t.Fatalf("SecretString of a binary secret: returned %q, failed with %q, panicked with %v; want a failure saying it has no string value",
			got, r.Fatal, r.Panicked)
	}
}
