package inject

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	"github.com/rs/zerolog"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FuzzReview feeds arbitrary pod JSON to the reviewer: it must never panic,
// and any patch it returns must apply to the pod it was computed for.
func FuzzReview(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "reviews", "*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var r admissionv1.AdmissionReview
		if err := json.Unmarshal(raw, &r); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(r.Request.Object.Raw), r.Request.Namespace)
	}
	cfg := testConfig(f)
	h, err := NewHandler(cfg, HandlerOptions{Logger: zerolog.Nop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pod []byte, ns string) {
		req := &admissionv1.AdmissionRequest{
			UID: "fuzz", Operation: admissionv1.Create, Namespace: ns,
			Object: runtime.RawExtension{Raw: pod},
		}
		req.Resource.Resource = "pods"
		resp := h.Review(req)
		if resp.Allowed && resp.Patch != nil {
			p, err := jsonpatch5.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatalf("undecodable patch: %v", err)
			}
			if _, err := p.Apply(pod); err != nil {
				t.Fatalf("patch does not apply to its pod: %v\npod: %s\npatch: %s", err, pod, resp.Patch)
			}
		}
	})
}
