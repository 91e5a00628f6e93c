package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// mustNew is New over out with opts; its error fails the test.
func mustNew(t *testing.T, out io.Writer, opts Options) *Writer {
	t.Helper()
	w, err := New(out, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Millisecond)
	}
}

func requestEvent(i int) Event {
	return Event{
		Type: TypeRequest, RequestID: fmt.Sprintf("req-%d", i), Caller: "billing", Route: "customers-read",
		Method: "GET", Actions: map[string]string{"email": "decrypt", "phone": "mask"},
		Fields: map[string]int{"email": i % 3, "phone": 1}, KeyIDs: []uint32{1, 2},
		Outcome: OutcomeOK, Status: 200, Latency: time.Duration(i) * 150 * time.Microsecond,
	}
}

// writeTrail writes a real trail to a file in two writer lifetimes (the
// second appends, as after a restart) and returns its lines and the anchor.
func writeTrail(t *testing.T) (path string, lines [][]byte, anchorSeq uint64, anchorHash string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "audit.jsonl")
	for run := range 2 {
		w, err := Open(path, Options{Now: fixedClock()})
		if err != nil {
			t.Fatalf("Open run %d: %v", run, err)
		}
		for i := range 6 {
			if err := w.Write(requestEvent(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(Event{Type: TypeKey, Outcome: "refreshed", Primary: 2, KeyIDs: []uint32{1, 2}, Revision: "sha256:ab12"}); err != nil {
			t.Fatal(err)
		}
		anchorSeq, anchorHash = w.Last()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines = bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // after the final newline
	return path, lines, anchorSeq, anchorHash
}

func verifyLines(lines [][]byte) (Report, error) {
	return Verify(bytes.NewReader(bytes.Join(lines, nil)))
}

func TestVerifyRealTrail(t *testing.T) {
	path, lines, seq, hash := writeTrail(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Verify(f)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Lines != len(lines) || rep.Lines != 16 || rep.Starts != 2 || rep.LastSeq != 15 || rep.BrokenLine != 0 {
		t.Fatalf("report = %+v", rep)
	}
	if err := rep.CheckAnchor(seq, hash); err != nil {
		t.Fatalf("anchor: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode = %v, want 0600", info.Mode().Perm())
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	_, lines, seq, hash := writeTrail(t)
	last := len(lines) - 1
	expectBroken := func(t *testing.T, got [][]byte, line int) {
		t.Helper()
		rep, err := verifyLines(got)
		if !errors.Is(err, ErrBroken) || rep.BrokenLine != line {
			t.Fatalf("BrokenLine = %d, err = %v; want line %d", rep.BrokenLine, err, line)
		}
	}
	t.Run("deleting any line but the last is reported at its position", func(t *testing.T) {
		for i := range last {
			got := append(clone(lines[:i]), lines[i+1:]...)
			expectBroken(t, got, i+1)
		}
	})
	t.Run("deleting the last line is caught only by the external anchor", func(t *testing.T) {
		rep, err := verifyLines(lines[:last])
		if err != nil {
			t.Fatalf("the chain alone cannot see truncation, but Verify said %v", err)
		}
		if err := rep.CheckAnchor(seq, hash); !errors.Is(err, ErrBroken) {
			t.Fatalf("CheckAnchor = %v, want ErrBroken", err)
		}
	})
	t.Run("editing any byte of any line is reported at that line", func(t *testing.T) {
		for i := range lines {
			for _, pos := range []int{1, len(lines[i]) / 3, len(lines[i]) / 2, len(lines[i]) - 5} {
				got := clone(lines)
				got[i] = bytes.Clone(lines[i])
				got[i][pos] ^= 0x01
				expectBroken(t, got, i+1)
			}
		}
	})
	t.Run("an edit with a recomputed hash breaks the next line", func(t *testing.T) {
		for i := range last {
			got := clone(lines)
			got[i] = rehash(t, bytes.Replace(lines[i], []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1))
			if bytes.Equal(got[i], lines[i]) {
				continue // a start event has no outcome to edit
			}
			expectBroken(t, got, i+2)
		}
		got := clone(lines)
		got[last] = rehash(t, bytes.Replace(lines[last], []byte(`"refreshed"`), []byte(`"loaded"`), 1))
		rep, err := verifyLines(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.CheckAnchor(seq, hash); !errors.Is(err, ErrBroken) {
			t.Fatalf("a rewritten last line passed the anchor: %v", err)
		}
	})
	t.Run("swapping any two neighbouring lines is reported at the first", func(t *testing.T) {
		for i := range last {
			got := clone(lines)
			got[i], got[i+1] = got[i+1], got[i]
			expectBroken(t, got, i+1)
		}
	})
	t.Run("a duplicated line is reported", func(t *testing.T) {
		for i := range lines {
			got := append(clone(lines[:i+1]), lines[i:]...)
			expectBroken(t, got, i+2)
		}
	})
	t.Run("an empty stream is not a valid trail", func(t *testing.T) {
		expectBroken(t, nil, 1)
	})
}

// rehash recomputes a line's hash the way the writer does, as a forger would.
func rehash(t *testing.T, line []byte) []byte {
	t.Helper()
	line = bytes.TrimSuffix(line, []byte("\n"))
	i := bytes.LastIndex(line, []byte(hashMember))
	body := append(bytes.Clone(line[:i]), '}')
	sum := sha256.Sum256(body)
	return append(append(line[:i:i], []byte(hashMember+hex.EncodeToString(sum[:])+`"}`)...), '\n')
}

func clone(lines [][]byte) [][]byte { return append([][]byte(nil), lines...) }

func TestOpenContinuesOrRefuses(t *testing.T) {
	t.Run("a damaged last line is refused", func(t *testing.T) {
		path, lines, _, _ := writeTrail(t)
		lines[len(lines)-1] = bytes.Replace(lines[len(lines)-1], []byte("refreshed"), []byte("refreshes"), 1)
		if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "hash does not match") {
			t.Fatalf("Open = %v, want refusal", err)
		}
	})
	t.Run("a partial last line is refused", func(t *testing.T) {
		path, lines, _, _ := writeTrail(t)
		data := bytes.Join(lines, nil)
		if err := os.WriteFile(path, data[:len(data)-10], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "partial write") {
			t.Fatalf("Open = %v, want refusal", err)
		}
	})
	t.Run("a long last line is found across read chunks", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		w, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]int{}
		for i := range 600 {
			fields[fmt.Sprintf("class_%03d", i)] = i
		}
		if err := w.Write(Event{Type: TypeRequest, Fields: fields, Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		w, err = Open(path, Options{})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		w.Close()
		f, _ := os.Open(path)
		defer f.Close()
		if rep, err := Verify(f); err != nil || rep.Lines != 3 {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
	})
}

func TestConcurrentWritesKeepOneChain(t *testing.T) {
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	w := mustNew(t, &buf, Options{Registerer: reg})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := w.Write(requestEvent(g*100 + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rep, err := Verify(&buf)
	if err != nil || rep.Lines != 401 || rep.LastSeq != 400 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if seq, _ := w.Last(); seq != 400 {
		t.Fatalf("Last seq = %d", seq)
	}
}

func TestEventSchema(t *testing.T) {
	var buf bytes.Buffer
	w := mustNew(t, &buf, Options{Now: fixedClock()})
	if err := w.Write(requestEvent(4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Event{Type: TypeRequest, Caller: "anonymous", Route: "customers-write", Method: "POST",
		Outcome: OutcomeUnauthenticated, Status: 401, Reason: "expired", RequestID: strings.Repeat("x", 500)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Event{Type: TypeAPI, RequestID: "req-5", Caller: "batch-job", Method: "POST", Operation: "seal",
		Items: 3, Actions: map[string]string{"email": "seal"}, Fields: map[string]int{"email": 2},
		Errors: map[string]int{"forbidden": 1}, KeyIDs: []uint32{2}, Outcome: OutcomeDenied, Status: 200,
		Latency: 1500 * time.Microsecond, Reason: "forbidden"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	strip := func(l string) string { return l[:strings.LastIndex(l, hashMember)] } // hashes checked by Verify
	want := []string{
		`{"seq":0,"time":"2026-11-25T17:00:00.001Z","prev":"` + Genesis + `","type":"start"`,
		`{"seq":1,"time":"2026-11-25T17:00:00.002Z","prev":"` + hashOf(t, lines[0]) + `","type":"request","request_id":"req-4","caller":"billing","route":"customers-read","method":"GET","actions":{"email":"decrypt","phone":"mask"},"fields":{"email":1,"phone":1},"key_ids":[1,2],"outcome":"ok","status":200,"latency_ms":0.6`,
		`{"seq":2,"time":"2026-11-25T17:00:00.003Z","prev":"` + hashOf(t, lines[1]) + `","type":"request","request_id":"` + strings.Repeat("x", maxRequestID) + `","caller":"anonymous","route":"customers-write","method":"POST","outcome":"unauthenticated","status":401,"latency_ms":0,"reason":"expired"`,
		`{"seq":3,"time":"2026-11-25T17:00:00.004Z","prev":"` + hashOf(t, lines[2]) + `","type":"api","request_id":"req-5","caller":"batch-job","method":"POST","operation":"seal","items":3,"actions":{"email":"seal"},"fields":{"email":2},"errors":{"forbidden":1},"key_ids":[2],"outcome":"denied","status":200,"latency_ms":1.5,"reason":"forbidden"`,
	}
	for i := range want {
		if got := strip(lines[i]); got != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got, want[i])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Errorf("line %d is not JSON: %v", i+1, err)
		}
	}
}

func hashOf(t *testing.T, line string) string {
	t.Helper()
	var r record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	return r.Hash
}

func TestWriteRefusesStartAndUnknownTypes(t *testing.T) {
	w := mustNew(t, &bytes.Buffer{}, Options{})
	for _, typ := range []string{TypeStart, "", "custom"} {
		if err := w.Write(Event{Type: typ}); err == nil {
			t.Errorf("type %q accepted", typ)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	w, err := New(discard{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	e := requestEvent(3)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	var buf bytes.Buffer
	w, _ := New(&buf, Options{})
	for i := range 1000 {
		_ = w.Write(requestEvent(i))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Verify(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func FuzzVerify(f *testing.F) {
	var buf bytes.Buffer
	w, _ := New(&buf, Options{Now: fixedClock()})
	_ = w.Write(requestEvent(1))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"seq":0,"hash":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data))
		if (err == nil) != (rep.BrokenLine == 0) {
			t.Fatalf("err %v with BrokenLine %d", err, rep.BrokenLine)
		}
		if err != nil && !errors.Is(err, ErrBroken) {
			t.Fatalf("error outside ErrBroken: %v", err)
		}
	})
}
