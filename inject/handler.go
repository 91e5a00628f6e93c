package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// maxReviewBytes bounds an AdmissionReview body; the API server's own request
// limit is 3 MiB.
const maxReviewBytes = 3 << 20

// HandlerOptions are the optional parts of a Handler.
type HandlerOptions struct {
	Logger     zerolog.Logger        // one event per review
	Registerer prometheus.Registerer // metrics fieldseal_inject_* (nil = none)
}

// Handler serves admission.k8s.io/v1 AdmissionReview requests for pods (POST,
// application/json) and answers with the injection patch, an unchanged
// admission, or a denial.
type Handler struct {
	cfg     Config
	log     zerolog.Logger
	metrics *metrics
}

// NewHandler validates cfg and returns a Handler.
func NewHandler(cfg Config, opts HandlerOptions) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Handler{cfg: cfg, log: opts.Logger, metrics: newMetrics(opts.Registerer)}, nil
}

// ServeHTTP implements http.Handler: it answers malformed requests with a
// 4xx and everything else with an AdmissionReview response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "admission review must be POSTed")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.fail(w, http.StatusUnsupportedMediaType, "admission review must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReviewBytes))
	if err != nil {
		h.fail(w, http.StatusRequestEntityTooLarge, "read admission review: body too large or unreadable")
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		h.fail(w, http.StatusBadRequest, "decode admission review: not an admission.k8s.io/v1 AdmissionReview with a request")
		return
	}
	resp := h.Review(review.Request)
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (h *Handler) fail(w http.ResponseWriter, status int, msg string) {
	h.metrics.reviews.WithLabelValues(string(OutcomeInvalid)).Inc()
	h.log.Warn().Str("event", "inject_review_invalid").Int("status", status).Str("reason", msg).Send()
	http.Error(w, msg, status)
}

// Review decides one admission request. It is the handler minus HTTP.
func (h *Handler) Review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	ev := &reviewLog{uid: string(req.UID), namespace: req.Namespace, operation: string(req.Operation)}

	if req.Resource.Resource != "pods" || req.SubResource != "" || req.Operation != admissionv1.Create {
		h.done(ev, OutcomeSkipped, "not a pod creation")
		return resp
	}
	// Case-sensitive, like the API server: encoding/json would read
	// "Metadata" as metadata, and a patch computed from that view would not
	// apply to the raw object.
	var pod corev1.Pod
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &pod); err != nil {
		return h.deny(ev, resp, "decode pod: "+err.Error())
	}
	ev.pod = podName(&pod)
	d, err := h.cfg.Decide(&pod, req.Namespace)
	if err != nil {
		return h.deny(ev, resp, err.Error())
	}
	if d.Outcome != OutcomeInjected {
		h.done(ev, d.Outcome, d.Reason)
		return resp
	}
	patch, err := createPatch(&pod, d.Pod)
	if err != nil {
		return h.deny(ev, resp, err.Error())
	}
	// The patch was computed on the typed view; make sure it applies to the
	// object exactly as sent. The API server always sends a canonical pod, so
	// this only fails on malformed input, which is then denied, not admitted
	// without its sidecar.
	if err := checkPatch(req.Object.Raw, patch); err != nil {
		return h.deny(ev, resp, err.Error())
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	h.done(ev, OutcomeInjected, "")
	return resp
}

func (h *Handler) deny(ev *reviewLog, resp *admissionv1.AdmissionResponse, msg string) *admissionv1.AdmissionResponse {
	resp.Allowed = false
	resp.Result = &metav1.Status{
		Status:  metav1.StatusFailure,
		Message: "fieldseal injector: " + msg,
		Reason:  metav1.StatusReasonBadRequest,
		Code:    http.StatusBadRequest,
	}
	h.done(ev, OutcomeDenied, msg)
	return resp
}

// reviewLog carries the fields of the one event logged per review.
type reviewLog struct{ uid, namespace, operation, pod string }

// done counts the outcome and logs it: injections at info, denials at warn
// (an operator acts on them), skips at debug (every pod creation in a
// selected namespace is one).
func (h *Handler) done(ev *reviewLog, o Outcome, reason string) {
	h.metrics.reviews.WithLabelValues(string(o)).Inc()
	var e *zerolog.Event
	switch o {
	case OutcomeInjected:
		e = h.log.Info()
	case OutcomeDenied:
		e = h.log.Warn()
	default:
		e = h.log.Debug()
	}
	e = e.Str("event", "inject_review").Str("outcome", string(o)).Str("uid", ev.uid).
		Str("namespace", ev.namespace).Str("operation", ev.operation)
	if ev.pod != "" {
		e = e.Str("pod", ev.pod)
	}
	if reason != "" {
		e = e.Str("reason", reason)
	}
	e.Send()
}

// createPatch diffs the typed pod before and after mutation. Both sides are
// marshalled from the same Go types, so fields this build does not know are
// never seen as removed, and only the injector's additions appear.
func createPatch(orig, mutated *corev1.Pod) ([]byte, error) {
	a, err := json.Marshal(orig)
	if err != nil {
		return nil, fmt.Errorf("marshal original pod: %w", err)
	}
	b, err := json.Marshal(mutated)
	if err != nil {
		return nil, fmt.Errorf("marshal injected pod: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		return nil, fmt.Errorf("create json patch: %w", err)
	}
	if len(ops) == 0 {
		return nil, errors.New("create json patch: injection changed nothing")
	}
	return json.Marshal(ops)
}

func checkPatch(raw, patch []byte) error {
	p, err := jsonpatch5.DecodePatch(patch)
	if err != nil {
		return fmt.Errorf("decode json patch: %w", err)
	}
	if _, err := p.Apply(raw); err != nil {
		return fmt.Errorf("pod object is not in the form the API server sends (missing spec or metadata?): %w", err)
	}
	return nil
}

func podName(p *corev1.Pod) string {
	if p.Name != "" {
		return p.Name
	}
	return p.GenerateName + "*"
}
