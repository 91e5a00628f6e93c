// Package apiservertest starts a real kube-apiserver backed by a real etcd
// for tests, with a private CA, a system:masters client and a helper to issue
// serving certificates (for webhooks) from the same CA. Binaries: etcd
// (Debian package etcd-server) and kube-apiserver (built from the Go module
// proxy by .ci/helm.sh with FIELDSEAL_E2E=1). Start skips the test when either
// is missing, unless FIELDSEAL_E2E=1.
package apiservertest
