// Package certreload serves a TLS certificate from a PEM certificate
// (chain) file and key file that another party renews in place: a
// Kubernetes Secret volume that cert-manager updates, a file logrotate-style
// tooling replaces. A Reloader loads the pair once at start (an error then
// stops the caller), hands the current pair to crypto/tls through
// GetCertificate without locks, and, while Run runs, re-reads both files at
// a fixed interval and swaps in a new pair when their content changed. A
// pair that does not load (a half-written update, a key that does not match)
// or whose certificate is not valid now (expired, not yet valid) keeps the
// previous one in service, and is refused at start; the caller learns of every swap and
// failure through a callback, and logs or counts it as it sees fit.
//
// Key material never appears in an error.
package certreload
