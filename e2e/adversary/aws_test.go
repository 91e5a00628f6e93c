package adversarye2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

const awsRegion = "us-east-1"

// TestAWSReplayedSecretVersionDoesNotRollTheSidecarBack is the aws form of
// TestReplayedRingFileDoesNotResurrectADestroyedKey: whoever may write the
// secret (the rotation CronJob's role, `PutSecretValue` of an older
// version's text, or `UpdateSecretVersionStage` moving AWSCURRENT back)
// puts back the ring as it was before v1 was retired. Its metadata seal is
// genuine. A running sidecar must not go back to sealing under v1, nor
// lose v2, whose values the store already holds.
func TestAWSReplayedSecretVersionDoesNotRollTheSidecarBack(t *testing.T) {
	moto := os.Getenv("FIELDSEAL_TEST_MOTO_URL")
	if moto == "" {
		testproc.Missing(t, `FIELDSEAL_TEST_MOTO_URL is not set; start the emulators first: eval "$(bash .ci/aws-emulators.sh)"`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	creds := credentials.NewStaticCredentialsProvider("testing", "testing", "")
	key, err := kms.New(kms.Options{Region: awsRegion, BaseEndpoint: aws.String(moto), Credentials: creds}).
		CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("fieldseal adversary " + t.Name())})
	if err != nil {
		t.Fatalf("create CMK: %v", err)
	}
	sm := secretsmanager.New(secretsmanager.Options{Region: awsRegion, BaseEndpoint: aws.String(moto), Credentials: creds})
	secret := fmt.Sprintf("fieldseal-adv/%d", time.Now().UnixNano())
	keysYAML := fmt.Sprintf("keys:\n  provider: aws\n  refresh_interval: 1s\n  aws:\n    region: %s\n    kms_key_id: %s\n    secret_id: %s\n    endpoint: %s\n    cmk_check_interval: 0s",
		awsRegion, *key.KeyMetadata.KeyId, secret, moto)
	st, up := newDocStore(t)
	s := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: up, FieldMap: docFieldMap, Keys: keysYAML})
	keys(t, s, "init")
	current := func() string {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.SecretString
	}
	old := current()
	keys(t, s, "rotate")
	keys(t, s, "rotate-lookup")
	keys(t, s, "retire", "1", "--grace", "0s") // no sidecar runs yet
	s.Serve(t)
	if v := put(t, s, st, "a", "a@example.com"); v != 2 {
		t.Fatalf("sealed under v%d, want v2", v)
	}

	// The replay, then one more key event (or error) from the sidecar.
	events := func() int {
		n := 0
		for ev, c := range s.LogEvents(t) {
			if strings.HasPrefix(ev, "keys_") {
				n += c
			}
		}
		return n
	}
	before := events()
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secret), SecretString: aws.String(old)}); err != nil {
		t.Fatal(err)
	}
	testproc.Poll(t, 15*time.Second, func() error {
		if events() == before {
			return errors.New("the sidecar has not read the replayed secret version yet")
		}
		return nil
	})
	var errs []error
	if v := put(t, s, st, "b", "b@example.com"); v != 2 {
		errs = append(errs, fmt.Errorf("after the replay the application received a value sealed under v%d, want v2 (v1 is retired)", v))
	}
	if resp := s.Do(t, getReq("a")); resp.Status != 200 {
		errs = append(errs, fmt.Errorf("after the replay a v2 value does not open: %d %s", resp.Status, resp.Body))
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}
