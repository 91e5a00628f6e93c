// Package promreg is how every fieldseal package registers its Prometheus
// collectors: Register registers a collector or, when one of the same
// description is already registered, returns that one instead (a nil
// Registerer leaves it unregistered); CounterVec, Counter and Gauge build
// and register the common kinds in one call.
//
// Components are built more than once against the process's one registry:
// a reloaded configuration builds a new auth Verifier, audit Writer or AWS
// key provider, tests build several proxies or key caches. The new instance
// must keep counting in the series already exported instead of failing to
// register; a collector of another kind under a name already taken is a
// programming error and panics.
package promreg
