// Package adversarye2e_test attacks the key lifecycle of issue 12 through
// the real fieldseal binary: replayed and re-created rings, rotations that
// race a sidecar, certificates swapped under a running listener. Each test
// asserts the promise as the design states it, so a failing test is an
// open finding.
package adversarye2e_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

var fieldsealBin string

// TestMain builds the binary once; the aws tests' own clients and every
// fieldseal process they start use static test credentials, nothing from
// the developer's machine.
func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithAWSEnv(m, &fieldsealBin, awsRegion)) }

// docStore is the application: sidecartest's recording store, read the
// way a Go service reads requests, at /customers/{id}.
type docStore struct{ *sidecartest.Store }

func newDocStore(t *testing.T) (*docStore, string) {
	t.Helper()
	s := sidecartest.NewStore(t, sidecartest.GoJSON)
	return &docStore{s}, s.URL()
}

// stored returns the e-mail member the application stored under id.
func (s *docStore) stored(t *testing.T, id string) string {
	t.Helper()
	email, ok := s.Record(id)["email"].(string)
	if !ok {
		t.Fatalf("the store holds no e-mail under %s: %v", id, s.Record(id))
	}
	return email
}

// plant writes doc as record id straight into the application, past the
// sidecar, as someone with write access to the store would.
func (s *docStore) plant(t *testing.T, id, doc string) {
	t.Helper()
	resp, err := http.Post(s.URL()+"/customers/"+id, "application/json", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plant %s: status %d", id, resp.StatusCode)
	}
}

const docFieldMap = `
classes:
  email: { mode: random }
routes:
  - name: c
    methods: [GET, POST]
    paths: ["/customers/{id}"]
    request: [{path: email, class: email}]
    response: [{path: email, class: email}]
`

// localKeys is a local keys section with a short refresh and extra lines
// (rotation bounds) under keys.
func localKeys(extra string) string {
	return "keys:\n  provider: local\n  refresh_interval: 1s\n" + extra +
		"  local:\n    ring_file: ring.json\n    master_key_file: master.key"
}

// newLocalSidecar writes a sidecar config over keys and creates its master
// key and ring with the binary's own commands.
func newLocalSidecar(t *testing.T, upstream, keys string) *sidecartest.Sidecar {
	t.Helper()
	s := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: upstream, FieldMap: docFieldMap, Keys: keys})
	key := s.Run(t, "keys", "master-key")
	if err := os.WriteFile(filepath.Join(s.Dir, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Run(t, "keys", "init", "--config", s.ConfigFile)
	return s
}

// newRingSidecar starts the application and writes a sidecar (not yet
// serving) on a new local ring refreshed every second, and returns the
// path of its ring file.
func newRingSidecar(t *testing.T) (*docStore, *sidecartest.Sidecar, string) {
	t.Helper()
	st, up := newDocStore(t)
	s := newLocalSidecar(t, up, localKeys(""))
	return st, s, filepath.Join(s.Dir, "ring.json")
}

// readFile returns the content of the file at path and fails the test if
// it cannot be read.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantOpen reads every document id back through s and fails the test,
// naming each that does not open; what says why each should.
func wantOpen(t *testing.T, s *sidecartest.Sidecar, what string, ids ...string) {
	t.Helper()
	var errs []error
	for _, id := range ids {
		if resp := s.Do(t, getReq(id)); resp.Status != 200 {
			errs = append(errs, fmt.Errorf("document %s does not open (%s): %d %s", id, what, resp.Status, resp.Body))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// keys runs `fieldseal keys ARGS --config` for s.
func keys(t *testing.T, s *sidecartest.Sidecar, args ...string) {
	t.Helper()
	s.Run(t, append(append([]string{"keys"}, args...), "--config", s.ConfigFile)...)
}

// put posts {"email": email} as document id and returns the key version
// the application received it sealed under (0 when the sidecar refused).
func put(t *testing.T, s *sidecartest.Sidecar, st *docStore, id, email string) uint32 {
	t.Helper()
	resp := s.Do(t, sidecartest.Req{Method: http.MethodPost, Path: "/customers/" + id, JSON: `{"email":"` + email + `"}`})
	if resp.Status != http.StatusOK {
		return 0
	}
	return sidecartest.KeyID(t, st.stored(t, id))
}

// replace puts data at path the way every fieldseal write does (a
// temporary file renamed over it).
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".adv"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// getReq reads document id back through the sidecar.
func getReq(id string) sidecartest.Req {
	return sidecartest.Req{Method: http.MethodGet, Path: "/customers/" + id}
}

// replaceAndWait puts data at ring (see replace) and waits until the
// sidecar's log shows that it read the new content: one more key event
// naming its revision (the file's SHA-256; the same content may have been
// loaded before) or one more keys_error (a sidecar that refuses it).
func replaceAndWait(t *testing.T, s *sidecartest.Sidecar, ring string, data []byte) {
	t.Helper()
	rev := fmt.Sprintf(`"revision":"%x"`, sha256.Sum256(data))
	count := func() (loads, errs int) {
		log, err := os.ReadFile(s.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(log), "\n") {
			switch {
			case strings.Contains(l, `"event":"keys_error"`):
				errs++
			case strings.Contains(l, `"event":"keys_`) && strings.Contains(l, rev):
				loads++
			}
		}
		return loads, errs
	}
	loads, errs := count()
	replace(t, ring, data)
	testproc.Poll(t, 15*time.Second, func() error {
		if l, e := count(); l == loads && e == errs {
			return fmt.Errorf("the sidecar has not read ring revision %s yet", rev)
		}
		return nil
	})
}
