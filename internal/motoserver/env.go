package motoserver

import (
	"os"
	"path/filepath"
)

// IsolateAWSEnv points the AWS SDK's default chain, in this process and every
// process it starts, at static test credentials ("testing"/"testing", which
// moto accepts) in region, and away from the developer's machine: no shared
// config or credentials files, no instance metadata, no profile, session
// token or endpoint override. Call it from TestMain, before any test runs:
// it changes the process's environment.
func IsolateAWSEnv(region string) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_REGION":                  region,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(os.TempDir(), "fieldseal-no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(os.TempDir(), "fieldseal-no-aws-credentials"),
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		os.Unsetenv(k)
	}
}
