package main

import (
	"fmt"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/api"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/policy"
	"github.com/fieldseal/fieldseal/proxy"
)

// This file is the one place where a loaded configuration becomes each
// package's options; the packages themselves know nothing of config. The
// caller adds what the process owns (registry, logger, key cache).

// proxyOptions returns the proxy.Options the configuration decides:
// Upstream, Routes (the compiled field map), ErrorBody, LeaveSealedOnOpenError, MaxBodyBytes, MaxResponseBytes,
// UpstreamTimeout, BodyTimeout, MaxIdleConnsPerHost and IdleConnTimeout
// (limits.idle_timeout). The caller adds Keys, and where configured
// Authenticator, Masker, Logger, Registerer and Observer.
func proxyOptions(cfg *config.Config, routes *fieldmap.Map) (proxy.Options, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil {
		return proxy.Options{}, fmt.Errorf("proxy options from %s: upstream: %w", cfg.File, err)
	}
	var errorBody proxy.ErrorBody
	if cfg.Errors != nil {
		if errorBody, err = cfg.Errors.Compile(); err != nil {
			return proxy.Options{}, fmt.Errorf("proxy options from %s: %w", cfg.File, err)
		}
	}
	return proxy.Options{
		ErrorBody:              errorBody,
		Upstream:               u,
		Routes:                 routes,
		LeaveSealedOnOpenError: cfg.OnOpenError == config.OnOpenErrorSealed,
		MaxBodyBytes:           int64(cfg.Limits.MaxBodyBytes),
		MaxResponseBytes:       int64(cfg.Limits.MaxResponseBytes),
		MaxBufferedBytes:       int64(cfg.Limits.MaxBufferedBytes),
		UpstreamTimeout:        cfg.Limits.UpstreamTimeout,
		BodyTimeout:            cfg.Limits.BodyTimeout,
		MaxIdleConnsPerHost:    cfg.Limits.MaxIdleConnsPerHost,
		IdleConnTimeout:        cfg.Limits.IdleTimeout,
	}, nil
}

// apiOptions returns the api.Options the configuration decides: Routes,
// MaxBodyBytes (limits.max_body_bytes, as on the proxy) and MaxItems
// (api.max_items). cfg.API must be set. The caller adds Keys,
// Authenticator (apiAuthenticator), Masker, Logger, Registerer and Observer.
func apiOptions(cfg *config.Config, routes *fieldmap.Map) api.Options {
	return api.Options{
		Routes:       routes,
		MaxBodyBytes: int64(cfg.Limits.MaxBodyBytes),
		MaxItems:     cfg.API.MaxItems,
	}
}

// apiAuthenticator returns the API's authenticator: the policy's callers on
// verified tokens when auth is configured (pol and v set), with anonymous
// calls only if api.allow_anonymous; without auth, full access for every
// caller if allow_anonymous, else nil, which refuses every call (config
// validation refuses that configuration first).
func apiAuthenticator(cfg *config.Config, pol *policy.Policy, v *auth.Verifier) api.Authenticator {
	switch {
	case pol != nil && v != nil:
		return api.PolicyAuthenticator{Policy: pol, Verifier: v, AllowAnonymous: cfg.API.AllowAnonymous}
	case cfg.API.AllowAnonymous:
		return api.Anonymous{}
	}
	return nil
}

// authOptions returns the verifier options of the auth section (decoded
// into auth.Options as they are) with the process's registry and logger.
func authOptions(section auth.Options, reg prometheus.Registerer, log zerolog.Logger) auth.Options {
	section.Registerer, section.Logger = reg, log
	return section
}

// keyCacheOptions maps the config's keys section to the key cache's options
// (refresh interval, keys.max_stale), monitored with the process's registry
// and logger. The caller adds OnEvent when there is an audit trail.
func keyCacheOptions(keys config.Keys, reg prometheus.Registerer, log zerolog.Logger) keycache.Options {
	return keycache.Options{
		Interval: keys.RefreshInterval,
		MaxStale: keys.MaxStale,
		Observer: keycache.NewMonitor(keycache.MonitorOptions{Logger: log, Registerer: reg, NoRingHint: noRingHint(keys)}),
	}
}

// noRingHint is what to check when the sidecar starts and its key source
// gives no ring.
func noRingHint(keys config.Keys) string {
	if keys.Provider == config.ProviderAWS {
		return "create the ring with `fieldseal keys init --config FILE` if the secret does not exist, else check keys.aws (secret id, region) and the KMS and Secrets Manager permissions"
	}
	return "create the ring with `fieldseal keys init --config FILE` if " + keys.Local.RingFile + " does not exist, else check that the master key is the one the ring was made with (`fieldseal keys verify --config FILE`)"
}

// rotatorOptions maps keys.rotation to the Rotator's options, monitored by
// the cache's Monitor. rotate is the provider's conditional rotation; it is
// dropped (report only) when keys.rotation.sidecar says the sidecar does
// not rotate: "no", or "auto" with the aws provider or a local ring whose
// directory this process cannot write. The reason goes to the log.
func rotatorOptions(keys config.Keys, rotate keycache.RotateFunc, observer keycache.RotationObserver, log zerolog.Logger) keycache.RotatorOptions {
	r := keys.Rotation
	opts := keycache.RotatorOptions{
		Policy:   keycache.RotationPolicy{MaxAge: r.MaxAge, MaxSeals: uint64(max(r.MaxSeals, 0))},
		Observer: observer,
	}
	if opts.Policy == (keycache.RotationPolicy{}) {
		return opts
	}
	why := ""
	switch {
	case r.Sidecar == config.RotateNo:
		why = "keys.rotation.sidecar is no"
	case r.Sidecar == config.RotateAuto && keys.Provider == config.ProviderAWS:
		why = "keys.rotation.sidecar auto leaves aws rings to keys rotate (set yes to let sidecars rotate)"
	case r.Sidecar == config.RotateAuto:
		if err := localkeys.Writable(keys.Local.RingFile); err != nil {
			why = "the ring file's directory is not writable: " + err.Error()
		}
	}
	if why == "" {
		opts.Rotate = rotate
	}
	ev := log.Info().Str("event", "keys_rotation_policy").Float64("max_age_seconds", r.MaxAge.Seconds()).Int64("max_seals", r.MaxSeals).Bool("sidecar_rotates", opts.Rotate != nil)
	if why != "" {
		ev = ev.Str("reason", why)
	}
	ev.Msg("rotation on age and use is on")
	return opts
}

// awsOptions maps the config's keys.aws section to the provider's options.
func awsOptions(keys config.Keys, reg prometheus.Registerer, log zerolog.Logger) awskeys.Options {
	a := keys.AWS
	return awskeys.Options{
		Region:           a.Region,
		KMSKeyID:         a.KMSKeyID,
		SecretID:         a.SecretID,
		Endpoint:         a.Endpoint,
		KMSEndpoint:      a.KMSEndpoint,
		SecretsEndpoint:  a.SecretsManagerEndpoint,
		CallTimeout:      a.CallTimeout,
		MaxAttempts:      a.MaxAttempts,
		CMKCheckInterval: a.CMKCheckInterval,
		Registerer:       reg,
		Logger:           log,
	}
}
