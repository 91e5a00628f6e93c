package measure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "user and system ticks are added",
			line: "1234 (fieldseal) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 8 0 100 0 0",
			want: 2 * time.Second,
		},
		{
			name: "a command name with spaces and parentheses does not shift fields",
			line: "7 (my (odd) proc) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0 0",
			want: 70 * time.Millisecond,
		},
		{name: "a truncated line is an error", line: "7 (x) R 1 2", wantErr: true},
		{name: "a line without a command name is an error", line: "7 x R", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	t.Run("missing VmHWM is an error", func(t *testing.T) {
		if _, err := parseStatus([]byte("Name:\tx\nVmRSS:\t  100 kB\n")); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("sizes are converted from kB to bytes", func(t *testing.T) {
		m, err := parseStatus([]byte("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
		if err != nil {
			t.Fatal(err)
		}
		if m.RSS != 1<<20 || m.Peak != 2<<20 {
			t.Errorf("got %+v", m)
		}
	})
}

const exposition = `# HELP go_memstats_mallocs_total Total number of mallocs.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.2345e+06
fieldseal_keys_refresh_total{result="ok"} 3
fieldseal_keys_refresh_total{result="error"} 1
build_info{version="v1 beta",goversion="go1.26"} 1
http_requests_total{code="200"} 7 1700000000000
`

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics([]byte(exposition))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		metric string
		want   float64
		found  bool
	}{
		{"a plain counter in exponent form is read", "go_memstats_mallocs_total", 1234500, true},
		{"series of one metric are summed over labels", "fieldseal_keys_refresh_total", 4, true},
		{"a label value with a space is kept", "build_info", 1, true},
		{"a trailing timestamp is ignored", "http_requests_total", 7, true},
		{"an absent metric is reported as not found", "fieldseal_kms_calls_total", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := m.Value(tt.metric)
			if got != tt.want || found != tt.found {
				t.Errorf("Value(%q) = %v, %v; want %v, %v", tt.metric, got, found, tt.want, tt.found)
			}
		})
	}
	t.Run("a sample without a value is an error", func(t *testing.T) {
		if _, err := ParseMetrics([]byte("lonely_metric\n")); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(exposition))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.Run("a served exposition is scraped", func(t *testing.T) {
		m, err := Scrape(ctx, srv.Client(), srv.URL+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := m.Value("go_memstats_mallocs_total"); v != 1234500 {
			t.Errorf("mallocs %v", v)
		}
	})
	t.Run("a non-200 answer is an error", func(t *testing.T) {
		if _, err := Scrape(ctx, srv.Client(), srv.URL+"/nope"); err == nil {
			t.Fatal("want an error")
		}
	})
}
