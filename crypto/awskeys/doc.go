// Package awskeys is fieldseal's production key provider: data keys (DEKs) made by
// AWS KMS and kept, wrapped, in one AWS Secrets Manager secret (the key ring).
//
// Hierarchy: KMS key (CMK) -> data keys (AES-256, one per key version) -> values.
//
//   - Init creates version 1 with KMS GenerateDataKeyWithoutPlaintext, so the
//     plaintext key never exists outside KMS at creation, and stores the ring in a
//     new secret. It refuses to overwrite an existing secret.
//   - Rotate adds version max+1 and makes it primary. Concurrent rotators converge:
//     each PutSecretValue carries a ClientRequestToken derived from the parent
//     version and the new key id, so only one child of a given parent can be written;
//     losers re-read and retry, and every writer re-reads after writing to prove that
//     no version was lost.
//   - RotateIfCMKRotated does the same only when KMS reports that the CMK rotated
//     (ListKeyRotations, DescribeKey) since the ring last followed it, and first
//     re-wraps every data key under the current CMK (ReEncrypt).
//   - Provider is a crypto.Source and crypto.Changer for keycache.Cache: Changed is one
//     DescribeSecret (plus one ListKeyRotations per CMK check interval); Load is one
//     GetSecretValue plus one KMS Decrypt per key version not already in memory.
//
// Every wrapped key is bound by the KMS encryption context
// {"fieldseal:secret": <secret name>, "fieldseal:version": "<key id>"}, which the
// IAM policies in docs/iam use to restrict kms:Decrypt to this one ring.
//
// Plaintext keys exist only in memory (in crypto.DataKey); they never reach the
// secret, logs, metrics or error messages. Every AWS call is counted in
// fieldseal_keys_provider_calls_total{service,operation,result}, one count per
// HTTP attempt, so tests and operators can prove that steady state makes no call per
// proxied request.
package awskeys
