// Package measure reads what the load benchmark reports about a process from
// outside it: CPU time and resident memory from /proc/<pid> (Linux), and
// counters from a Prometheus text endpoint such as fieldseal's /metrics.
//
// Reading from outside keeps the measured process unmodified: the same numbers
// come from fieldseal, the plain proxy and the upstream, and the harness adds
// no code to the hot path it measures.
package measure
