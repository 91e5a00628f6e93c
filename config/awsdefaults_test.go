package config_test

import (
	"testing"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
	"github.com/fieldseal/fieldseal/crypto/keycache"
)

// The config package must not import the AWS SDK, so it repeats the aws
// provider's defaults; this test keeps the two in step.
func TestAWSDefaultsMatchAWSKeys(t *testing.T) {
	a := config.Defaults().Keys.AWS
	if a.CallTimeout != awskeys.DefaultCallTimeout || a.MaxAttempts != awskeys.DefaultMaxAttempts || a.CMKCheckInterval != awskeys.DefaultCMKCheckInterval {
		t.Errorf("config defaults %+v differ from awskeys (%v, %d, %v)", a,
			awskeys.DefaultCallTimeout, awskeys.DefaultMaxAttempts, awskeys.DefaultCMKCheckInterval)
	}
	if got := config.Defaults().Keys.RefreshInterval; got != keycache.DefaultInterval {
		t.Errorf("keys.refresh_interval default %v differs from keycache.DefaultInterval %v", got, keycache.DefaultInterval)
	}
}
