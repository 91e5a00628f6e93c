// Package inject is the fieldseal sidecar injector: a Kubernetes mutating
// admission webhook (admission.k8s.io/v1) that adds the fieldseal container to
// pods annotated fieldseal.io/inject: "true".
//
// The webhook only ever adds: one container named "fieldseal" (serve --config
// /etc/fieldseal/config.yaml, with listen, upstream and admin addresses from
// annotations or chart defaults), the volumes it needs (the field-map ConfigMap;
// for the local key provider the key-ring Secret and, when the master key is a
// file, its own volume; a TLS Secret for the sidecar's listeners) and the status annotation
// fieldseal.io/status: "injected". The JSON patch returned to the API server is
// computed by diffing the pod before and after mutation (gomodules.xyz/jsonpatch);
// no patch is written by hand.
//
// Invariants:
//   - Injection is idempotent: a pod carrying the status annotation or a
//     container named "fieldseal" is admitted unchanged.
//   - A pod that asks for injection but carries a bad annotation (port that is
//     not a number or clashes with an app container, bad resource quantity, an
//     image not on the allow list) is denied with a message naming the
//     annotation: failing closed, because an app that runs without its sidecar
//     would write plaintext.
//   - Pods in skipped namespaces (kube-system and the injector's own) are never
//     touched.
//
// Use: build a [Config] (usually [LoadConfig] on the file the Helm chart
// renders), then either mount [NewHandler] on your own TLS server or call [Run],
// which serves /mutate and /healthz over TLS and reloads the certificate when
// its files change (as they do when cert-manager renews a Secret).
package inject
