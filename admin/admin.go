package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
)

// KeySource gives the current key ring; *keycache.Cache implements it. A nil
// ring means keys are not loaded yet.
type KeySource interface {
	Keyring() *crypto.Keyring
}

// StatusSource reports the key cache's state; *keycache.Cache implements it.
type StatusSource interface {
	Status() keycache.Status
}

// Options configure the admin handler.
type Options struct {
	// Keys decides readiness: ready once it has a key ring.
	Keys KeySource
	// Status adds the key cache's detail to /readyz (optional).
	Status StatusSource
	// Gatherer is served on /metrics; nil leaves /metrics unregistered.
	Gatherer prometheus.Gatherer
	// Pprof serves Go's runtime profiles under /debug/pprof/.
	Pprof bool
	Now   func() time.Time // nil: time.Now
}

// ReadyReport is the JSON body of /readyz.
type ReadyReport struct {
	Ready bool      `json:"ready"`
	Keys  KeyReport `json:"keys"`
}

// KeyReport is the key cache part of ReadyReport. It never carries key material.
type KeyReport struct {
	Loaded              bool       `json:"loaded"`
	Revision            string     `json:"revision,omitempty"`
	Primary             uint32     `json:"primary,omitempty"`
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	RingAgeSeconds      float64    `json:"ring_age_seconds,omitempty"`
	LastAttempt         *time.Time `json:"last_attempt,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// Stale is true while the ring is older than the cache's max stale
	// bound and withheld (not ready); LastError then says why.
	Stale bool `json:"stale,omitempty"`
	// RingRefused is set while the last ring read was refused as no later
	// state of the ring in service (replayed, re-created or restored); the
	// old ring is still served.
	RingRefused string `json:"ring_refused,omitempty"`
}

// New returns the admin handler: /healthz (the process is up), /readyz
// (200 once keys are loaded, 503 before; JSON detail either way), /metrics
// and, with Pprof, /debug/pprof/.
func New(o Options) http.Handler {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		rep := readyReport(o, now())
		status := http.StatusOK
		if !rep.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, rep)
	})
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	if o.Pprof {
		// The handlers net/http/pprof registers on http.DefaultServeMux,
		// registered here instead: the admin mux is not the default one.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func readyReport(o Options, now time.Time) ReadyReport {
	var rep ReadyReport
	if o.Keys != nil {
		if ring := o.Keys.Keyring(); ring != nil {
			rep.Ready = true
			rep.Keys.Loaded = true
			rep.Keys.Revision = ring.Revision()
			rep.Keys.Primary = ring.Primary()
		}
	}
	if o.Status != nil {
		s := o.Status.Status()
		if s.Revision != "" {
			rep.Keys.Revision = s.Revision
		}
		if s.Primary != 0 {
			rep.Keys.Primary = s.Primary
		}
		if !s.LastSuccess.IsZero() {
			t := s.LastSuccess
			rep.Keys.LastSuccess = &t
			rep.Keys.RingAgeSeconds = now.Sub(t).Seconds()
		}
		if !s.LastAttempt.IsZero() {
			t := s.LastAttempt
			rep.Keys.LastAttempt = &t
		}
		rep.Keys.LastError = s.LastError
		rep.Keys.ConsecutiveFailures = s.ConsecutiveFailures
		rep.Keys.Stale = s.Stale
		rep.Keys.RingRefused = s.RingRefused
	}
	return rep
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
