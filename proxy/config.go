package proxy

import (
	"fmt"
	"net/url"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/fieldmap"
)

// OptionsFromConfig returns the Options a loaded configuration decides:
// Upstream, Routes, LeaveSealedOnOpenError, MaxBodyBytes, UpstreamTimeout,
// MaxIdleConnsPerHost and IdleConnTimeout (limits.idle_timeout). The caller adds Keys, and where configured
// Authenticator, Masker, Logger, Registerer and Observer. routes is the
// configuration compiled by fieldmap.Compile.
func OptionsFromConfig(cfg *config.Config, routes *fieldmap.Map) (Options, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil {
		return Options{}, fmt.Errorf("proxy options from %s: upstream: %w", cfg.File, err)
	}
	return Options{
		Upstream:               u,
		Routes:                 routes,
		LeaveSealedOnOpenError: cfg.OnOpenError == config.OnOpenErrorSealed,
		MaxBodyBytes:           cfg.Limits.MaxBodyBytes,
		UpstreamTimeout:        cfg.Limits.UpstreamTimeout,
		MaxIdleConnsPerHost:    cfg.Limits.MaxIdleConnsPerHost,
		IdleConnTimeout:        cfg.Limits.IdleTimeout,
	}, nil
}
