package inject

import (
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkReviewInject measures one injection review of a typical
// ReplicaSet pod: decode, decide, diff into a JSON patch, verify the patch.
func BenchmarkReviewInject(b *testing.B) {
	h := benchHandler(b)
	_, review := readReview(b, "inject-defaults")
	b.ReportAllocs()
	for b.Loop() {
		if resp := h.Review(review.Request); !resp.Allowed || resp.Patch == nil {
			b.Fatal("not injected")
		}
	}
}

// BenchmarkReviewSkip measures the common case: a pod without the annotation.
func BenchmarkReviewSkip(b *testing.B) {
	h := benchHandler(b)
	_, review := readReview(b, "skip-no-annotation")
	b.ReportAllocs()
	for b.Loop() {
		if resp := h.Review(review.Request); !resp.Allowed || resp.Patch != nil {
			b.Fatal("patched")
		}
	}
}

// benchHandler is a Handler on the test config that does not log.
func benchHandler(b *testing.B) *Handler {
	b.Helper()
	h, err := NewHandler(testConfig(b), HandlerOptions{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	return h
}
