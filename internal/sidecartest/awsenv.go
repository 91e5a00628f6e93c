package sidecartest

import (
	"testing"

	"github.com/fieldseal/fieldseal/internal/motoserver"
)

// RunWithAWSEnv is RunWithBinary for end-to-end tests that talk to the AWS
// emulators: it first isolates the process's AWS environment
// (motoserver.IsolateAWSEnv: static test credentials in region, nothing
// from the developer's machine), which every fieldseal process the tests
// start inherits. Its result is the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithAWSEnv(m, &bin, region)) }
func RunWithAWSEnv(m *testing.M, bin *string, region string) int {
	motoserver.IsolateAWSEnv(region)
	return RunWithBinary(m, bin)
}
