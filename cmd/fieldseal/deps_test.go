package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSidecarLinksNoKubernetesModules keeps the webhook out of the sidecar:
// the sidecar runs in every protected pod, the injector (cmd/fieldseal-injector)
// twice per cluster, so only the injector may link package inject and k8s.io.
func TestSidecarLinksNoKubernetesModules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") || pkg == "github.com/fieldseal/fieldseal/inject" {
			t.Errorf("cmd/fieldseal links %s; the injector's dependencies belong in cmd/fieldseal-injector", pkg)
		}
	}
}
