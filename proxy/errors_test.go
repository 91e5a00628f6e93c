package proxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/transform"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestErrorMapping pins the one place errors become statuses and codes.
func TestErrorMapping(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"a wrapped category keeps its status", fmt.Errorf("read: %w", ErrBodyTooLarge), 413, "body_too_large"},
		{"http.MaxBytesError is too large", &http.MaxBytesError{Limit: 1}, 413, "body_too_large"},
		{"a field error carries its category", &transform.FieldError{Op: "open", Path: "email", Class: "email", Err: fmt.Errorf("%w: %w", transform.ErrOpen, crypto.ErrTampered)}, 502, "open_failed"},
		{"crypto.ErrNoKey means keys are unavailable", fmt.Errorf("seal: %w", crypto.ErrNoKey), 503, "keys_unavailable"},
		{"a dial timeout is a gateway timeout", timeout, 504, "upstream_timeout"},
		{"a deadline is a gateway timeout", context.DeadlineExceeded, 504, "upstream_timeout"},
		{"a refused connection is a bad gateway", refused, 502, "upstream_unavailable"},
		{"a client that went away is recorded as such", context.Canceled, 499, "client_canceled"},
		{"anything else is internal", errors.New("surprise"), 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := classify(tt.err)
			if c.Status != tt.status || c.Code != tt.code {
				t.Errorf("classify(%v) = %d %s, want %d %s", tt.err, c.Status, c.Code, tt.status, tt.code)
			}
		})
	}
	t.Run("an unrecognised transport error is a bad gateway", func(t *testing.T) {
		if c := classifyProxyError(io.ErrUnexpectedEOF); c.Status != 502 || c.Code != "upstream_unavailable" {
			t.Errorf("got %d %s", c.Status, c.Code)
		}
		if c := classifyProxyError(fmt.Errorf("x: %w", transform.ErrOpen)); c.Code != "open_failed" {
			t.Errorf("a category from ModifyResponse was lost: %s", c.Code)
		}
	})
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestErrorBodiesGolden renders the error body of every category; the file
// under testdata/ is the documented error shape (go test -update rewrites it).
func TestErrorBodiesGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range errorClasses {
		rec := httptest.NewRecorder()
		writeError(rec, nil, c.Class, fmt.Errorf("example detail: %w", c.Err), "0123456789abcdef")
		fmt.Fprintf(&b, "%d %s", rec.Code, rec.Body.String())
	}
	sidecartest.Golden(t, filepath.Join("testdata", "errors.golden"), []byte(b.String()), *update)
}
