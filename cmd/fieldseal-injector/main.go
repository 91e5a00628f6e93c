// Command fieldseal-injector is the Kubernetes mutating admission webhook
// that adds the fieldseal sidecar to pods annotated fieldseal.io/inject:
// "true" (package inject).
//
// It is a binary of its own so that the sidecar, which runs in every
// protected pod, links no Kubernetes modules. Like cmd/fieldseal it only
// wires packages together: parse flags, build the server, run it until
// SIGINT or SIGTERM, drain.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/inject"
	"github.com/fieldseal/fieldseal/internal/promreg"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const (
	usageLine = "Usage: fieldseal-injector --tls-cert FILE --tls-key FILE --config FILE [--addr :8443]"
	summary   = "Run the Kubernetes mutating admission webhook that adds the fieldseal sidecar\n" +
		"to pods annotated fieldseal.io/inject: \"true\" (POST /mutate, GET /healthz,\n" +
		"GET /metrics). The certificate files are re-read when they change."
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args and serves the webhook until ctx is done. It returns the
// exit code: 0 after a clean shutdown, --help or --version; 2 for a usage
// error (explained on stderr with the usage); 1 when the webhook cannot
// start or fails.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fieldseal-injector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8443", "`ADDRESS` to serve TLS on")
	certFile := fs.String("tls-cert", "", "PEM certificate (chain) `FILE` (required)")
	keyFile := fs.String("tls-key", "", "PEM private key `FILE` (required)")
	configFile := fs.String("config", "", "injector config `FILE` rendered by the Helm chart (required)")
	logLevel := fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s\n\n%s\n\nFlags:\n", usageLine, summary)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	// The FlagSet reports a parse problem on stderr; the usage follows it
	// there, or goes to stdout when it was asked for (it is then the
	// program's output, not a diagnostic).
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "fieldseal-injector", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fieldseal-injector: unexpected argument %q\n", fs.Arg(0))
		usage(stderr)
		return 2
	}
	if *certFile == "" || *keyFile == "" || *configFile == "" {
		fmt.Fprintln(stderr, "fieldseal-injector: --tls-cert, --tls-key and --config are required")
		usage(stderr)
		return 2
	}
	if err := serve(ctx, *addr, *certFile, *keyFile, *configFile, *logLevel, stderr); err != nil {
		fmt.Fprintf(stderr, "fieldseal-injector: %v\n", err)
		return 1
	}
	return 0
}

// serve builds the webhook from its flags and runs it until ctx is done.
// Logs are JSON on logOut.
func serve(ctx context.Context, addr, certFile, keyFile, configFile, logLevel string, logOut io.Writer) error {
	level, err := zerolog.ParseLevel(logLevel)
	if err != nil {
		return fmt.Errorf("log level %q: %w", logLevel, err)
	}
	log := zerolog.New(logOut).Level(level).With().Timestamp().Logger()
	cfg, err := inject.LoadConfig(configFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	promreg.Register(reg, collectors.NewGoCollector())
	promreg.Register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return inject.Run(ctx, inject.ServerOptions{
		Addr: addr, CertFile: certFile, KeyFile: keyFile, Config: cfg,
		Logger: log, Registerer: reg, Gatherer: reg,
	})
}
