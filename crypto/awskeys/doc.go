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
//     GetSecretValue, one KMS Decrypt for a new metadata seal, and one KMS Decrypt
//     per key version not already in memory (at most Options.UnwrapConcurrency at
//     once). A non-primary version KMS refuses is left out (Unreadable).
//
// Rings have an identity: a random ring id made at Init. Every wrapped key is
// bound by the KMS encryption context
// {"fieldseal:ring": <ring id>, "fieldseal:version": "<key id>"}, which the IAM
// policies in docs/iam use to restrict kms:Decrypt to this one ring; the secret
// name is not part of it, so a ring restored under another name opens. Keys
// made by earlier releases (ring format v1) keep their binding
// {"fieldseal:secret": <secret name>, "fieldseal:version": "<key id>"} until a CMK
// re-wrap moves them to the ring id. The Init version id derives from the ring
// id, so a ring made again in a force-deleted secret of the same name is a new
// secret version, and the Provider reuses an unwrapped key only for the same
// wrapped bytes of the same ring: an old and a re-created ring never mix.
//
// The ring's metadata (primary, minimum version, retired and destroyed
// versions, key list, CMK) is authenticated by a metadata seal: a KMS
// ciphertext from GenerateDataKeyWithoutPlaintext whose encryption context
// holds the ring id and the SHA-256 of the metadata. Changing the metadata
// changes the context, and KMS refuses the seal. Writers check it with
// ReEncrypt (the rotator may not decrypt), the Provider with Decrypt. Its
// strength rests on who may make ciphertexts under the CMK (the rotator) and
// on kms:Decrypt being limited to the ring's CMK, as docs/iam does.
//
// Retire, SetMinVersion and Destroy change the lifecycle; Verify unwraps every
// version; WriteBackup and RestoreBackup copy the ring out and back (same or
// new secret name). Every write is checked against the secret size limit first
// (ErrRingTooLarge, with a warning from RingSizeWarnPercent on).
//
// Plaintext keys exist only in memory (in crypto.DataKey); they never reach the
// secret, logs, metrics or error messages. Every AWS call is counted in
// fieldseal_keys_provider_calls_total{service,operation,result}, one count per
// HTTP attempt, so tests and operators can prove that steady state makes no call per
// proxied request.
package awskeys
