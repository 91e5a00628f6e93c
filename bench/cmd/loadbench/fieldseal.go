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
	}{{workload.FixtureCustomer, workload.Customer()}, {workload.FixtureList, workload.List()}, {workload.FixtureLarge, workload.Large()}} {
		if _, err := call(ctx, client, http.MethodPost, "http://"+fieldsealAddr+"/seed/"+s.fixture, s.doc, http.StatusCreated); err != nil {
			return fmt.Errorf("seed %s through fieldseal: %w", s.fixture, err)
		}
	}
	checks := []struct {
		path   string
		fields []workload.Field
		plain  []byte
	}{
		{workload.PathSealedGet, workload.CustomerFields(), workload.Customer()},
		{workload.PathSealedList, workload.ListFields(), workload.List()},
		{workload.PathSealedLargeGet, workload.CustomerFields(), workload.Large()},
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
