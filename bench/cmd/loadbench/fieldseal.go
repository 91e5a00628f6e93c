package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/bench/workload"
)

// Paths the fieldseal config protects. The upstream matches on the path's
// tail, so the same documents answer under every prefix.
const (
	pathSealedPost = "/sealed/customers"   // POST: seal 5 fields in, open 5 in the echo
	pathSealedGet  = "/sealed/customers/1" // GET: open 5 fields of the sealed customer
	pathSealedList = "/sealed/customers"   // GET: open 2 fields in each of 100 elements
	pathPlainPost  = "/plain/customers"    // no route: fieldseal passes it through
	pathPlainGet   = "/plain/customers/1"
)

// masterKeyEnv is the variable the config names for the local provider.
const masterKeyEnv = "FIELDSEAL_MASTER_KEY"

// fieldsealConfig renders the config for one fieldseal process: the local key
// provider, one class per protected field, and the bench routes. Log level is
// info, as in production.
func fieldsealConfig(listen, admin, upstream, ringFile string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\nupstream: http://%s\nadmin_listen: %s\n", listen, upstream, admin)
	fmt.Fprintf(&b, "keys:\n  provider: local\n  refresh_interval: 1m\n  local:\n    ring_file: %s\n    master_key_env: %s\n", ringFile, masterKeyEnv)
	b.WriteString("log:\n  level: info\n  format: json\nclasses:\n")
	for _, f := range workload.CustomerFields() {
		fmt.Fprintf(&b, "  %s: { mode: random }\n", f.Class)
	}
	b.WriteString("routes:\n")
	route := func(name, method, path, side string, fields []workload.Field, alsoResponse bool) {
		fmt.Fprintf(&b, "  - name: %s\n    methods: [%s]\n    paths: [%s]\n", name, method, path)
		sides := []string{side}
		if alsoResponse {
			sides = append(sides, "response")
		}
		for _, s := range sides {
			fmt.Fprintf(&b, "    %s:\n", s)
			for _, f := range fields {
				fmt.Fprintf(&b, "      - { path: %q, class: %s }\n", f.Path, f.Class)
			}
		}
	}
	route("bench-post", "POST", pathSealedPost, "request", workload.CustomerFields(), true)
	route("bench-get", "GET", "/sealed/customers/{id}", "response", workload.CustomerFields(), false)
	route("bench-list", "GET", pathSealedList, "response", workload.ListFields(), false)
	route("bench-seed-customer", "POST", "/seed/"+workload.FixtureCustomer, "request", workload.CustomerFields(), false)
	route("bench-seed-list", "POST", "/seed/"+workload.FixtureList, "request", workload.ListFields(), false)
	return []byte(b.String())
}

// newMasterKey returns base64 of 32 random bytes, the local provider's master
// key format. It lives only in the harness's memory and its children's
// environment.
func newMasterKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("generate master key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// initKeyRing runs `fieldseal keys init --config FILE`, which creates the
// ring file the config names.
func initKeyRing(ctx context.Context, bin, cfgFile string, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "keys", "init", "--config", cfgFile)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fieldseal keys init: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// seedAndVerify sends the plaintext fixtures through fieldseal's seed routes
// so the upstream stores them sealed, then proves the benchmark measures real
// work: the upstream holds "fs1:" values at every protected path, and a GET
// through fieldseal gives back the original plaintext.
func seedAndVerify(ctx context.Context, fieldsealAddr, upstreamAddr string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	for _, s := range []struct {
		fixture string
		doc     []byte
	}{{workload.FixtureCustomer, workload.Customer()}, {workload.FixtureList, workload.List()}} {
		if _, err := call(ctx, client, http.MethodPost, "http://"+fieldsealAddr+"/seed/"+s.fixture, s.doc, http.StatusCreated); err != nil {
			return fmt.Errorf("seed %s through fieldseal: %w", s.fixture, err)
		}
	}
	checks := []struct {
		path   string
		fields []workload.Field
		plain  []byte
	}{
		{pathSealedGet, workload.CustomerFields(), workload.Customer()},
		{pathSealedList, workload.ListFields(), workload.List()},
	}
	for _, c := range checks {
		stored, err := call(ctx, client, http.MethodGet, "http://"+upstreamAddr+c.path, nil, http.StatusOK)
		if err != nil {
			return fmt.Errorf("read seeded fixture from upstream: %w", err)
		}
		opened, err := call(ctx, client, http.MethodGet, "http://"+fieldsealAddr+c.path, nil, http.StatusOK)
		if err != nil {
			return fmt.Errorf("read seeded fixture through fieldseal: %w", err)
		}
		for _, f := range c.fields {
			for i, v := range values(stored, f.Path) {
				if !strings.HasPrefix(v.Str, "fs1:") {
					return fmt.Errorf("upstream copy of %s at %s[%d] is not sealed", c.path, f.Path, i)
				}
			}
			want, got := values(c.plain, f.Path), values(opened, f.Path)
			if len(got) != len(want) {
				return fmt.Errorf("GET %s through fieldseal: %d values at %s, want %d", c.path, len(got), f.Path, len(want))
			}
			for i := range want {
				if got[i].Raw != want[i].Raw {
					return fmt.Errorf("GET %s through fieldseal: value at %s[%d] does not open to the original", c.path, f.Path, i)
				}
			}
		}
	}
	return nil
}

func values(doc []byte, path string) []gjson.Result {
	r := gjson.GetBytes(doc, path)
	if r.IsArray() && strings.Contains(path, "#") {
		return r.Array()
	}
	return []gjson.Result{r}
}

func call(ctx context.Context, client *http.Client, method, url string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %.200s", method, url, resp.StatusCode, want, b)
	}
	return b, nil
}
