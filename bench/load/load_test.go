package load

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"no samples give zero", nil, 0.99, 0},
		{"the median of 1..100 is 50", hundred, 0.50, 50},
		{"p99 of 1..100 is 99, not 100", hundred, 0.99, 99},
		{"p99.9 of 1..100 is the maximum", hundred, 0.999, 100},
		{"one sample is every percentile", []time.Duration{7}, 0.5, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("Percentile(q=%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

// echo counts the POST bodies it receives, to prove each request carried one.
type echo struct{ bodies atomic.Int64 }

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if string(b) == `{"a":1}` && r.Header.Get("Content-Type") == "application/json" {
		e.bodies.Add(1)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(b)
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("closed loop sends bodies on every connection and records each answer", func(t *testing.T) {
		e := &echo{}
		srv := httptest.NewServer(e)
		defer srv.Close()
		r, err := Run(ctx, Options{URL: srv.URL + "/x", Method: http.MethodPost, Body: []byte(`{"a":1}`), Connections: 4, Duration: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(r); err != nil {
			t.Fatal(err)
		}
		if r.Requests != e.bodies.Load() || r.Statuses[http.StatusCreated] != r.Requests {
			t.Errorf("result %+v, server saw %d bodies", r, e.bodies.Load())
		}
		if r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.P999 || r.P999 > r.Max || r.RPS <= 0 {
			t.Errorf("inconsistent latencies or rate: %+v", r)
		}
	})

	t.Run("open loop schedules exactly rate times duration requests", func(t *testing.T) {
		e := &echo{}
		srv := httptest.NewServer(e)
		defer srv.Close()
		r, err := Run(ctx, Options{URL: srv.URL + "/x", Method: http.MethodPost, Body: []byte(`{"a":1}`), Connections: 2, Duration: 300 * time.Millisecond, Rate: 200})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Requests + r.Errors + r.Missed; got != 60 {
			t.Errorf("requests+errors+missed = %d, want 60 (%+v)", got, r)
		}
		if r.Requests != e.bodies.Load() {
			t.Errorf("reported %d requests, server saw %d", r.Requests, e.bodies.Load())
		}
	})

	t.Run("non-2xx answers are errors and fail the check", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusBadGateway)
		}))
		defer srv.Close()
		r, err := Run(ctx, Options{URL: srv.URL, Method: http.MethodGet, Connections: 1, Duration: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if r.Errors == 0 || r.Statuses[http.StatusBadGateway] != r.Errors || !errors.Is(Check(r), ErrNoSuccess) {
			t.Errorf("result %+v, check %v", r, Check(r))
		}
	})

	t.Run("a server that closes every connection is reconnected to", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte(`{}`))
		}))
		defer srv.Close()
		r, err := Run(ctx, Options{URL: srv.URL, Method: http.MethodGet, Connections: 1, Duration: 100 * time.Millisecond, Rate: 100})
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(r); err != nil || r.Requests != 10 {
			t.Errorf("result %+v, check %v: want 10 successful requests", r, err)
		}
	})

	t.Run("a closed port fails the run before any load is sent", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		if _, err := Run(ctx, Options{URL: url, Method: http.MethodGet, Connections: 2, Duration: time.Second}); err == nil {
			t.Fatal("want a connect error")
		}
	})

	t.Run("invalid options are refused", func(t *testing.T) {
		for _, o := range []Options{
			{URL: "http://127.0.0.1:1/", Connections: 0, Duration: time.Second},
			{URL: "http://127.0.0.1:1/", Connections: 1, Duration: 0},
			{URL: "https://127.0.0.1:1/", Connections: 1, Duration: time.Second},
			{URL: "http://127.0.0.1:1/", Connections: 1, Duration: time.Second, Rate: -1},
		} {
			if _, err := Run(ctx, o); err == nil {
				t.Errorf("options %+v accepted", o)
			}
		}
	})
}
