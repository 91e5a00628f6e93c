// Package apiservertest starts a real kube-apiserver backed by a real etcd
// for tests, with a private CA, a system:masters client and a helper to issue
// serving certificates (for webhooks) from the same CA. Binaries: $ETCD and
// $KUBE_APISERVER, else etcd and kube-apiserver on PATH, else in the repository's
// tool cache (.cache/bin), where `bash .ci/tools.sh etcd kube-apiserver` puts
// Debian's etcd-server and a kube-apiserver built from the Go module proxy
// (`make test` does so with FIELDSEAL_E2E=1). Start skips the test when either
// is missing, unless FIELDSEAL_E2E=1.
package apiservertest
