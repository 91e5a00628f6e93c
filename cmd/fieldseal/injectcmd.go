package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/inject"
	"github.com/fieldseal/fieldseal/internal/promreg"
)

func runInject(args []string, _ io.Reader, _, stderr io.Writer) error {
	fs := newFlags("inject", "inject --tls-cert FILE --tls-key FILE --config FILE [--addr :8443]",
		"Run the Kubernetes mutating admission webhook that adds the fieldseal sidecar\nto pods annotated fieldseal.io/inject: \"true\" (POST /mutate, GET /healthz,\nGET /metrics). The certificate files are re-read when they change.", stderr)
	addr := fs.String("addr", ":8443", "`ADDRESS` to serve TLS on")
	certFile := fs.String("tls-cert", "", "PEM certificate (chain) `FILE` (required)")
	keyFile := fs.String("tls-key", "", "PEM private key `FILE` (required)")
	configFile := fs.String("config", "", "injector config `FILE` rendered by the Helm chart (required)")
	logLevel := fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *certFile == "" || *keyFile == "" || *configFile == "" {
		fs.Usage()
		return errUsage
	}
	log, err := newLogger(config.Log{Level: *logLevel, Format: "json"}, stderr)
	if err != nil {
		return err
	}
	cfg, err := inject.LoadConfig(*configFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	promreg.Register(reg, collectors.NewGoCollector())
	promreg.Register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return inject.Run(ctx, inject.ServerOptions{
		Addr: *addr, CertFile: *certFile, KeyFile: *keyFile, Config: cfg,
		Logger: log, Registerer: reg, Gatherer: reg,
	})
}
