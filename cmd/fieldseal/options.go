package main

import (
	"fmt"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
	"github.com/fieldseal/fieldseal/fieldmap"
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

// authOptions returns the verifier options of the auth section (decoded
// into auth.Options as they are) with the process's registry and logger.
func authOptions(section auth.Options, reg prometheus.Registerer, log zerolog.Logger) auth.Options {
	section.Registerer, section.Logger = reg, log
	return section
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
