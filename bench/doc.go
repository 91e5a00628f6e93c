// Package bench is fieldseal's load benchmark: what a sidecar costs per request
// in throughput, latency, CPU and memory, next to no proxy and a plain
// net/http/httputil.ReverseProxy.
//
// One command runs everything on 127.0.0.1, bounded in time:
//
//	go run ./bench/cmd/loadbench -duration 10s -out bench/RESULTS.md
//
// The programs it starts, each its own process so /proc can attribute CPU and
// memory to it, live under bench/cmd: upstream (the app behind the proxy),
// plainproxy (the baseline), loadgen (the load generator) and loadbench (the
// orchestrator that starts them, measures and writes the report). The
// libraries they share are workload (documents and the upstream handler), load
// (the closed- and open-loop generator) and measure (/proc and /metrics
// readers). docs/performance.md explains the method.
//
// The in-process benchmarks in this package (go test -bench . ./bench) drive
// the same documents through a plain ReverseProxy over real loopback sockets,
// for profiling and benchstat comparisons without the multi-process harness.
package bench
