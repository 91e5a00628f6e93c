package motoserver

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// EnvLocalKMSURL names the environment variable through which
// .ci/aws-emulators.sh hands its local-kms (the second KMS emulator) to the
// tests.
const EnvLocalKMSURL = "FIELDSEAL_TEST_LOCALKMS_URL"

// callTimeout bounds each call a fixture makes to an emulator.
const callTimeout = 20 * time.Second

// FromEnv returns the endpoint of an emulator .ci/aws-emulators.sh started,
// read from the environment variable name (EnvURL, EnvLocalKMSURL). When it
// is unset the test skips with the hint to run the script, or fails when CI
// is "true" (testproc.Missing). Tests that may start their own moto use
// Shared instead.
func FromEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		testproc.Missing(t, name+` is not set; start the emulators first: eval "$(bash .ci/aws-emulators.sh)"`)
	}
	return v
}

// LocalKMS is FromEnv(t, EnvLocalKMSURL): the tests never start local-kms
// themselves.
func LocalKMS(t testing.TB) string {
	t.Helper()
	return FromEnv(t, EnvLocalKMSURL)
}

// CreateCMK makes a symmetric encryption key (a customer master key) through
// k, described by the test's name, and returns its key id and ARN.
func CreateCMK(t testing.TB, k *kms.Client) (keyID, arn string) {
	t.Helper()
	var out *kms.CreateKeyOutput
	call(t, "create test CMK", func(ctx context.Context) (err error) {
		out, err = k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("fieldseal test " + t.Name())})
		return err
	})
	return aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
}

var aliases atomic.Int64

// CreateAlias gives the key target (a key id or ARN) a new alias, unique in
// this process and across runs on a shared emulator, and returns it
// ("alias/fieldseal-test-...").
func CreateAlias(t testing.TB, k *kms.Client, target string) string {
	t.Helper()
	alias := fmt.Sprintf("alias/fieldseal-test-%d-%d", time.Now().UnixNano(), aliases.Add(1))
	call(t, "create alias "+alias, func(ctx context.Context) error {
		_, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(target)})
		return err
	})
	return alias
}

// SecretString is the current text of the secret id, read through sm: the
// test's own view of the store, not the code under test's. A secret whose
// current version has no text (SecretBinary only) fails the test rather
// than reading as "".
func SecretString(t testing.TB, sm *secretsmanager.Client, id string) string {
	t.Helper()
	var out *secretsmanager.GetSecretValueOutput
	call(t, "read secret "+id, func(ctx context.Context) (err error) {
		out, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		return err
	})
	if out.SecretString == nil {
		t.Fatalf("read secret %s: version %s has no string value", id, aws.ToString(out.VersionId))
	}
	return *out.SecretString
}

// PutSecretString writes text as a new current version of the existing
// secret id, behind the code under test's back (an edit, a replay).
func PutSecretString(t testing.TB, sm *secretsmanager.Client, id, text string) {
	t.Helper()
	call(t, "put secret "+id, func(ctx context.Context) error {
		_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(text)})
		return err
	})
}

// CreateSecretString creates the secret id with text as its first version
// (a copy, or a ring put back after a restart or a deletion).
func CreateSecretString(t testing.TB, sm *secretsmanager.Client, id, text string) {
	t.Helper()
	call(t, "create secret "+id, func(ctx context.Context) error {
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(text)})
		return err
	})
}

// ForceDeleteSecret deletes the secret id at once, without the recovery
// window, so that a test can lose a ring or make it again under its name.
func ForceDeleteSecret(t testing.TB, sm *secretsmanager.Client, id string) {
	t.Helper()
	call(t, "delete secret "+id, func(ctx context.Context) error {
		_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(id), ForceDeleteWithoutRecovery: aws.Bool(true)})
		return err
	})
}

// call runs one emulator call under callTimeout and fails the test with
// what it was doing if the call fails.
func call(t testing.TB, what string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
