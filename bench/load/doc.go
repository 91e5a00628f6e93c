// Package load is the benchmark's HTTP/1.1 load generator.
//
// It keeps one keep-alive TCP connection per worker, writes a request
// serialised once up front (by net/http's Request.Write) and reads each
// response with net/http's ReadResponse, so the per-request work is a write,
// a parse and a discard: on a 2-core machine shared with the proxy under test,
// a cheap generator leaves the CPU to what is measured. Latencies are kept
// exactly (one int64 each) and sorted at the end; there is no histogram
// rounding.
//
// Two modes:
//   - closed loop (Rate == 0): each connection sends its next request as soon
//     as the previous answer is read; this measures maximum throughput.
//   - open loop (Rate > 0): requests are scheduled at a fixed rate whatever the
//     server does, released in 1 ms batches, and latency is measured from each
//     batch's scheduled time, not from when a free connection sent it, so a
//     stall is charged to every request it delayed (no coordinated omission,
//     as in wrk2).
package load
