package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/admin"
	"github.com/fieldseal/fieldseal/api"
	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/promreg"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
	"github.com/fieldseal/fieldseal/proxy"
)

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve --config FILE", "Run the sidecar: the proxy listener, the admin listener (/healthz, /readyz,\n/metrics), the encryption API listener if configured, and the key cache.\nSIGHUP reloads the config's field map (a bad one is refused and the old one\nkept) and reopens the audit file (log rotation); SIGINT/SIGTERM drain\nin-flight requests and stop.", stdout, stderr)
	var o overrides
	fs.StringVar(&o.configFile, "config", "", "config `FILE` (required)")
	fs.StringVar(&o.listen, "listen", "", "proxy listen `ADDRESS`, overriding the config's listen")
	fs.StringVar(&o.upstream, "upstream", "", "upstream `URL`, overriding the config's upstream")
	fs.StringVar(&o.adminListen, "admin-listen", "", "admin listen `ADDRESS`, overriding the config's admin_listen")
	fs.StringVar(&o.keyProvider, "key-provider", "", "key provider (local or aws), overriding the config's keys.provider")
	fs.StringVar(&o.tls.CertFile, "tls-cert-file", "", "PEM certificate `FILE` of the proxy listener, overriding the config's tls.cert_file (with --tls-key-file)")
	fs.StringVar(&o.tls.KeyFile, "tls-key-file", "", "PEM private key `FILE` of the proxy listener, overriding the config's tls.key_file")
	fs.StringVar(&o.adminTLS.CertFile, "admin-tls-cert-file", "", "PEM certificate `FILE` of the admin listener, overriding the config's admin_tls.cert_file (with --admin-tls-key-file)")
	fs.StringVar(&o.adminTLS.KeyFile, "admin-tls-key-file", "", "PEM private key `FILE` of the admin listener, overriding the config's admin_tls.key_file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.configFile == "" {
		fs.Usage()
		return errUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, o, stderr)
}

// overrides are the serve flags that replace config values: the Kubernetes
// injector sets ports, the provider and the TLS files (from a Secret in the
// pod's namespace) per pod while sharing one field map.
type overrides struct {
	configFile, listen, upstream, adminListen, keyProvider string
	// tls and adminTLS replace the config's tls and admin_tls sections as a
	// whole when their certificate file is given.
	tls, adminTLS config.TLS
}

// load loads and compiles the config file with the overrides applied, and
// validates the overridden values as the config loader would.
func (o overrides) load() (*config.Config, *fieldmap.Map, error) {
	cfg, fm, err := compile(o.configFile)
	if err != nil {
		return nil, nil, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, o.listen)
	set(&cfg.Upstream, o.upstream)
	set(&cfg.AdminListen, o.adminListen)
	if o.keyProvider != "" {
		cfg.Keys.Provider = config.Provider(o.keyProvider)
	}
	var errs []error
	for _, t := range []struct {
		flag  string
		given config.TLS
		dst   *config.TLS
	}{{"--tls", o.tls, &cfg.TLS}, {"--admin-tls", o.adminTLS, &cfg.AdminTLS}} {
		if (t.given.CertFile == "") != (t.given.KeyFile == "") {
			errs = append(errs, fmt.Errorf("%s-cert-file and %s-key-file go together", t.flag, t.flag))
		} else if t.given.Enabled() {
			*t.dst = t.given
		}
	}
	if cfg.AdminTLS.Enabled() && cfg.AdminListen == "" {
		errs = append(errs, errors.New("admin TLS needs the admin listener, but admin_listen is empty"))
	}
	for name, addr := range map[string]string{"--listen": cfg.Listen, "--admin-listen": cfg.AdminListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil && addr != "" {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, addr, err))
		}
	}
	if u, err := url.Parse(cfg.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("upstream %q: want an http or https URL", cfg.Upstream))
	}
	if p := cfg.Keys.Provider; p != config.ProviderLocal && p != config.ProviderAWS {
		errs = append(errs, fmt.Errorf("key provider %q: want local or aws", p))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return cfg, fm, nil
}

func newLogger(c config.Log, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log level %q: %w", c.Level, err)
	}
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// compile loads the config file and compiles its field map, the two steps
// every command that reads a config shares. A config with problems is still
// compiled as far as it decoded, so that one run reports the field map's
// problems too.
func compile(path string) (*config.Config, *fieldmap.Map, error) {
	cfg, cfgErr := loadConfig(path)
	if cfg == nil {
		return nil, nil, cfgErr
	}
	spec := cfg.FieldMap()
	spec.SealedPrefix = crypto.Prefix
	fm, fmErr := fieldmap.Compile(spec)
	if err := errors.Join(cfgErr, fmErr); err != nil {
		return nil, nil, err
	}
	return cfg, fm, nil
}

func serve(ctx context.Context, o overrides, logOut io.Writer) error {
	cfg, fm, err := o.load()
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, logOut)
	if err != nil {
		return err
	}
	tuneRuntime(log)

	reg := prometheus.NewRegistry()
	promreg.Register(reg, collectors.NewGoCollector())
	promreg.Register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The audit trail opens first, so the first key load is in it.
	var trail *audit.Writer
	if cfg.Audit != nil {
		if trail, err = audit.OpenConfig(*cfg.Audit, audit.Options{Registerer: reg}); err != nil {
			return fmt.Errorf("open audit trail: %w", err)
		}
		defer trail.Close()
	}
	record := func(e audit.Event) {
		if err := trail.Write(e); err != nil {
			log.Error().Str("event", "audit_write_failed").Err(err).Msg("audit event lost")
		}
	}

	src, rotate, closeSrc, err := newRotatingKeySource(ctx, cfg.Keys, reg, log)
	if err != nil {
		return err
	}
	defer closeSrc()
	// keys.max_stale: past it the cache serves no ring (protected routes
	// 503, /readyz not ready) until a refresh succeeds.
	cacheOpts := keyCacheOptions(cfg.Keys, reg, log)
	if trail != nil {
		cacheOpts.OnEvent = func(k keycache.KeyEvent) { record(audit.KeyEvent(k)) }
	}
	cache := keycache.New(src, cacheOpts)
	// keys.rotation: rotate the ring (or report it due) on age and on use.
	rotOpts := rotatorOptions(cfg.Keys, rotate, cacheOpts.Observer.(keycache.RotationObserver), log)
	rotOpts.OnEvent = cacheOpts.OnEvent

	opts, err := proxyOptions(cfg, fm)
	if err != nil {
		return err
	}
	opts.Keys, opts.Logger, opts.Registerer = cache, log, reg
	masks, err := mask.NewSet(cfg.Masks())
	if err != nil {
		return err
	}
	opts.Masker = masks
	var pol *policy.Policy
	var verifier *auth.Verifier
	if cfg.Auth != nil {
		v, err := auth.New(ctx, authOptions(*cfg.Auth, reg, log))
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		defer v.Close()
		var spec policy.Spec
		if cfg.Policies != nil {
			spec = *cfg.Policies
		}
		if pol, err = policy.Compile(spec, cfg.ClassNames()); err != nil {
			return err
		}
		verifier = v
		opts.Authenticator = proxy.PolicyAuthenticator{Policy: pol, Verifier: v}
	}
	if trail != nil {
		opts.Observer = func(e proxy.RequestEvent) { record(proxy.AuditEvent(e)) }
	}
	px, err := proxy.New(opts)
	if err != nil {
		return err
	}
	maps := []func(*fieldmap.Map){px.SetMap}
	var apiHandler *api.API
	if cfg.API != nil {
		aopts := apiOptions(cfg, fm)
		aopts.Keys, aopts.Masker, aopts.Logger, aopts.Registerer = cache, masks, log, reg
		aopts.Authenticator = apiAuthenticator(cfg, pol, verifier)
		if trail != nil {
			aopts.Observer = record
		}
		if apiHandler, err = api.New(aopts); err != nil {
			return err
		}
		maps = append(maps, apiHandler.SetMap)
	}

	// Listen before loading keys, so probes answer (not ready) while the
	// first load runs; protected routes answer 503 until it succeeds.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	ln = proxy.LimitListener(ln, cfg.Limits.MaxConnections, reg)
	srv := &http.Server{
		Handler: px,
		// net/http's own complaints (TLS handshakes, bad requests) go to the
		// structured log rather than raw stderr.
		ErrorLog:          stdlog.New(log.With().Str("event", "http_server").Logger(), "", 0),
		ReadHeaderTimeout: cfg.Limits.ReadHeaderTimeout,
		IdleTimeout:       cfg.Limits.IdleTimeout,
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 3)
	lns := newListeners(ctx, log, reg, errc)
	// With a certificate the listener speaks TLS, and net/http then offers
	// HTTP/2 to clients by ALPN.
	if err := lns.serve(srv, ln, cfg.TLS, "proxy"); err != nil {
		return err
	}

	if cfg.AdminListen != "" {
		aln, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("listen admin %s: %w", cfg.AdminListen, err)
		}
		admin := &http.Server{
			Handler:           admin.New(admin.Options{Keys: cache, Status: cache, Gatherer: reg, Pprof: cfg.AdminPprof}),
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          stdlog.New(log.With().Str("event", "http_server").Str("listener", "admin").Logger(), "", 0),
		}
		if err := lns.serve(admin, aln, cfg.AdminTLS, "admin"); err != nil {
			_ = srv.Close()
			return err
		}
		servers = append(servers, admin)
	}
	if apiHandler != nil {
		apiSrv, err := serveAPI(cfg, apiHandler, log, lns)
		if err != nil {
			shutdown(servers, cfg.Limits.ShutdownTimeout, log)
			return err
		}
		servers = append(servers, apiSrv)
	}
	warnGuardOff(fm, log)
	log.Info().Str("event", "listening").Str("listen", ln.Addr().String()).Str("admin", cfg.AdminListen).
		Bool("tls", cfg.TLS.Enabled()).Bool("admin_tls", cfg.AdminTLS.Enabled()).
		Str("upstream", redacted(cfg.Upstream)).Str("provider", string(cfg.Keys.Provider)).Int("routes", len(cfg.Routes)).Msg("fieldseal serving")

	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	if err := cache.Refresh(cacheCtx); err != nil {
		log.Error().Str("event", "keys_unavailable").Err(err).Msg("no keys yet: protected routes answer 503 until a refresh succeeds")
	}
	go cache.Run(cacheCtx)
	go keycache.NewRotator(cache, rotOpts).Run(cacheCtx)
	go releaseIdleMemory(cacheCtx, log)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	for {
		select {
		case <-hup:
			reload(o.configFile, maps, log)
			reopenAudit(trail, log)
		case err := <-errc:
			shutdown(servers, cfg.Limits.ShutdownTimeout, log)
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			log.Info().Str("event", "stopping").Msg("draining in-flight requests")
			shutdown(servers, cfg.Limits.ShutdownTimeout, log)
			px.CloseIdleConnections()
			return nil
		}
	}
}

// reload recompiles the field map; a config that fails keeps the old map.
// Listeners, keys and limits need a restart to change.
func reload(configFile string, maps []func(*fieldmap.Map), log zerolog.Logger) {
	_, fm, err := compile(configFile)
	if err != nil {
		log.Error().Str("event", "reload_refused").Err(err).Msg("config reload refused; keeping the running field map")
		return
	}
	for _, set := range maps {
		set(fm)
	}
	warnGuardOff(fm, log)
	log.Info().Str("event", "reloaded").Msg("field map reloaded")
}

// reopenAudit opens the audit file again after log rotation (logrotate's
// rename, then SIGHUP); the chain goes on in the new file.
func reopenAudit(trail *audit.Writer, log zerolog.Logger) {
	if trail == nil {
		return
	}
	if err := trail.Reopen(); err != nil {
		log.Error().Str("event", "audit_reopen_failed").Err(err).Msg("audit file not reopened; still writing the old one")
		return
	}
	log.Info().Str("event", "audit_reopened").Msg("audit file reopened")
}

func shutdown(servers []*http.Server, timeout time.Duration, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			log.Warn().Str("event", "shutdown_incomplete").Err(err).Msg("in-flight requests cut at the shutdown timeout")
			_ = s.Close()
		}
	}
}

// redacted hides a password in a URL for logs.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// warnGuardOff says, at start and at every reload, that the operator opted
// out of the guard on unlisted routes.
func warnGuardOff(fm *fieldmap.Map, log zerolog.Logger) {
	if fm.Guard().Unmatched == fieldmap.UnmatchedOff {
		log.Warn().Str("event", "guard_off").Msg("guard.unmatched is off: class members on requests no route lists reach the application in plaintext")
	}
}
