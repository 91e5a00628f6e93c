// Package motoserver runs a moto_server (the AWS emulator the tests use for
// KMS, Secrets Manager and Cognito) that one test owns: on a free loopback
// port, stopped abruptly to simulate an AWS outage, and restarted on the same
// port, empty, as moto keeps its state in memory.
//
// Tests that only need an emulator share one through Shared: the one
// .ci/aws-emulators.sh starts (FIELDSEAL_TEST_MOTO_URL), or else one the
// test binary starts on first use and RunShared stops after the tests. Start
// is for tests that must take their own down. Without moto_server on PATH
// the test skips with a hint, or fails when CI is "true" (testproc.Missing).
// FromEnv and LocalKMS return an emulator only the script starts.
//
// KMS and SecretsManager are clients for an emulator; CreateCMK,
// CreateAlias and the secret fixtures (SecretString, PutSecretString,
// CreateSecretString, ForceDeleteSecret) are the test's own calls through
// them, each bounded in time and failing the test with what it was doing.
//
//	func TestMain(m *testing.M) { os.Exit(motoserver.RunShared(m)) }
//	url := motoserver.Shared(t)
//
//	m := motoserver.Start(t)
//	... m.URL ...
//	m.Stop()    // the outage
//	m.Restart() // the recovery, on the same port
package motoserver
