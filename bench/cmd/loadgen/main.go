// Command loadgen runs one load.Run in its own process and prints the result
// as one JSON object on stdout, with the CPU time the generator itself used
// (cpu_ns), so the report can show what the load cost next to what it
// measured.
//
//	loadgen -url http://127.0.0.1:8081/customers -method POST -body customer.json -c 32 -duration 10s
//	loadgen -url http://127.0.0.1:8081/customers/1 -c 32 -duration 10s -rate 12000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fieldseal/fieldseal/bench/load"
)

type output struct {
	load.Result
	CPU time.Duration `json:"cpu_ns"`
}

func main() {
	var o load.Options
	var bodyFile string
	flag.StringVar(&o.URL, "url", "", "target URL (http://127.0.0.1:PORT/path)")
	flag.StringVar(&o.Method, "method", "GET", "request method")
	flag.StringVar(&bodyFile, "body", "", "file with the JSON request body")
	flag.IntVar(&o.Connections, "c", 32, "keep-alive connections")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send")
	flag.Float64Var(&o.Rate, "rate", 0, "requests per second (open loop); 0 = closed loop, as fast as answered")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request I/O deadline")
	flag.Parse()
	if err := run(o, bodyFile); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(o load.Options, bodyFile string) error {
	if bodyFile != "" {
		b, err := os.ReadFile(bodyFile)
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		o.Body = b
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	before, err := cpuTime()
	if err != nil {
		return err
	}
	r, err := load.Run(ctx, o)
	if err != nil {
		return err
	}
	after, err := cpuTime()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(output{Result: r, CPU: after - before})
}

func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
