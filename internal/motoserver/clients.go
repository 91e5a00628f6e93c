package motoserver

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// KMS is a KMS client for the emulator at url in region, with static
// dummy credentials (moto accepts any) so the SDK never looks for real
// ones. hc carries its requests; nil is the SDK's default client.
func KMS(url, region string, hc *http.Client) *kms.Client {
	return kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(url), Credentials: testCredentials}, func(o *kms.Options) {
		if hc != nil {
			o.HTTPClient = hc
		}
	})
}

// SecretsManager is KMS for Secrets Manager.
func SecretsManager(url, region string, hc *http.Client) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(url), Credentials: testCredentials},
		func(o *secretsmanager.Options) {
			if hc != nil {
				o.HTTPClient = hc
			}
		})
}

var testCredentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
