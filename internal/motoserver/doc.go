// Package motoserver runs a moto_server (the AWS emulator the tests use for
// KMS, Secrets Manager and Cognito) that one test owns: on a free loopback
// port, stopped abruptly to simulate an AWS outage, and restarted on the same
// port, empty, as moto keeps its state in memory.
//
// Tests that only need an emulator share the one .ci/aws-emulators.sh
// starts (FIELDSEAL_TEST_MOTO_URL); this package is for tests that must take
// it down. Without moto_server on PATH the test skips with a hint, or fails
// when CI is "true" (testproc.Missing).
//
//	m := motoserver.Start(t)
//	... m.URL ...
//	m.Stop()    // the outage
//	m.Restart() // the recovery, on the same port
package motoserver
