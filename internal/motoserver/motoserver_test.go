package motoserver

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestStopIsAnOutageAndRestartComesBackOnTheSamePort(t *testing.T) {
	m := Start(t)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	answers := func() bool {
		resp, err := client.Get(m.URL + "/moto-api/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	if !answers() {
		t.Fatal("moto does not answer after Start")
	}
	m.Stop()
	if answers() {
		t.Fatal("moto still answers after Stop")
	}
	port := m.Port
	m.Restart()
	if m.Port != port || !answers() {
		t.Fatalf("after Restart: port %d (was %d), answers %v", m.Port, port, answers())
	}
	m.Stop()
	m.Stop() // stopping a stopped server does nothing
}

func TestMain(m *testing.M) { os.Exit(RunShared(m)) }

func TestSharedIsOneServerPerTestBinary(t *testing.T) {
	t.Run("the one named in the environment", func(t *testing.T) {
		t.Setenv(EnvURL, "http://127.0.0.1:1")
		if got := Shared(t); got != "http://127.0.0.1:1" {
			t.Fatalf("Shared = %q, want the environment's URL", got)
		}
	})
	t.Run("else one started on first use", func(t *testing.T) {
		t.Setenv(EnvURL, "")
		first := Shared(t)
		if second := Shared(t); second != first {
			t.Fatalf("second call started another server: %s, then %s", first, second)
		}
		resp, err := http.Get(first + "/moto-api/")
		if err != nil {
			t.Fatalf("the shared moto_server does not answer: %v", err)
		}
		resp.Body.Close()
	})
}

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
