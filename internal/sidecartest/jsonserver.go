package sidecartest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// EnvJSONServer names the environment variable that points the tests at a
// json-server executable (scripts/test.sh sets it).
const EnvJSONServer = "FIELDSEAL_JSON_SERVER"

// JSONServer is a running json-server from npm, the legacy application of
// the end-to-end tests: it stores what it receives in a db file the test can
// inspect.
type JSONServer struct {
	URL string // base URL, http://127.0.0.1:PORT
	DB  string // its db file
}

// StartJSONServer runs json-server on a free loopback port over a db file
// holding seed (a JSON document such as {"customers":[]}) until the test
// ends, and returns once GET /customers answers 200. The executable is
// $FIELDSEAL_JSON_SERVER, else json-server on PATH, else the quick start's
// node_modules (npm ci in examples/quickstart); without one the test skips,
// or fails in CI (testproc.Missing).
func StartJSONServer(t testing.TB, seed string) *JSONServer {
	t.Helper()
	bin := jsonServerBin(t)
	dir := t.TempDir()
	js := &JSONServer{DB: filepath.Join(dir, "db.json")}
	if err := os.WriteFile(js.DB, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testproc.FreePort(t)
	js.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	p := testproc.Start(t, testproc.Options{Log: filepath.Join(dir, "json-server.log"), Grace: 10 * time.Second},
		bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--quiet", js.DB)
	p.WaitHTTP(t, js.URL+"/customers", 30*time.Second, nil)
	return js
}

// ReadDB returns the db file once it mentions every string in want (at
// most 10 s): json-server writes its file after it answers, so a test waits
// for the write it caused before it inspects the file.
func (js *JSONServer) ReadDB(t testing.TB, want ...string) []byte {
	t.Helper()
	return testproc.WaitFileContains(t, js.DB, 10*time.Second, want...)
}

func jsonServerBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvJSONServer); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", EnvJSONServer, p, err)
		}
		return p
	}
	if p, err := exec.LookPath("json-server"); err == nil {
		return p
	}
	_, self, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(self), "..", "..", "examples", "quickstart", "node_modules", ".bin", "json-server")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	testproc.Missing(t, "json-server not found: run `npm ci` in examples/quickstart, or set "+EnvJSONServer)
	return ""
}
