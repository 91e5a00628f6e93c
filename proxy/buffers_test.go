package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/tidwall/gjson"
)

func TestReadLimitedGrowsToTheDeclaredSize(t *testing.T) {
	for _, size := range []int{1, 100, minBuffer, preGrow + 1, 100 << 10, 1 << 20} {
		t.Run(fmt.Sprintf("a body of %d bytes ends in a buffer of %d", size, room(size)), func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), size)
			// One byte per read: every growth step is taken.
			got, err := readLimited(nil, iotest.OneByteReader(bytes.NewReader(body)), 2<<20, int64(size), nil)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read %d bytes, err %v", len(got), err)
			}
			// A size class may round an allocation up, never by much.
			if c := cap(got); c < size+1 || c > room(size)+room(size)/8 {
				t.Errorf("cap %d, want about %d", c, room(size))
			}
		})
	}
	t.Run("a body longer than declared keeps growing", func(t *testing.T) {
		body := bytes.Repeat([]byte("y"), 300<<10)
		got, err := readLimited(nil, bytes.NewReader(body), 1<<20, 1000, nil)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("read %d bytes, err %v", len(got), err)
		}
	})
}

// TestLargeDocumentsRoundTrip sends documents on both sides of the size
// where a sealed body stops being copied out of its buffer, and of the
// pool's limit, several at a time: the sealed body the upstream stores and
// the opened body the client gets must be whole and each its own, whether
// the buffers were sealed in place, copied or pooled.
func TestLargeDocumentsRoundTrip(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) {
		o.MaxBodyBytes = 3 * maxPooledBuffer
		o.MaxResponseBytes = 3 * maxPooledBuffer
	})
	sizes := []int{1 << 10, maxClonedBody - 200, maxClonedBody + 1000, 1 << 20, maxPooledBuffer + 1000}
	for round := range 2 {
		var wg sync.WaitGroup
		for i, size := range sizes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pad := strings.Repeat(string(rune('a'+i)), size)
				email := fmt.Sprintf("ada%d-%d@example.com", round, i)
				doc := `{"email":"` + email + `","note":"` + pad + `","phone":"+44 20 7946 0000"}`
				resp, body := h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(doc))
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%d bytes: status %d: %.200s", size, resp.StatusCode, body)
					return
				}
				if !jsonEqual(t, string(body), doc) {
					t.Errorf("%d bytes: the client got %d bytes back, not the document", size, len(body))
				}
			}()
		}
		wg.Wait()
	}
	stored := h.up.requests()
	if len(stored) != 2*len(sizes) {
		t.Fatalf("the upstream got %d requests, want %d", len(stored), 2*len(sizes))
	}
	for _, r := range stored {
		note := gjson.GetBytes(r.Body, "note").Str
		if len(note) == 0 || strings.Trim(note, note[:1]) != "" {
			t.Errorf("the upstream stored a note of %d bytes that mixes documents", len(note))
		}
		if bytes.Contains(r.Body, []byte("@example.com")) || !strings.HasPrefix(gjson.GetBytes(r.Body, "email").Str, "fs1:") {
			t.Errorf("the upstream stored an unsealed email (%d bytes)", len(r.Body))
		}
	}
}

func TestForwardedBodyIsReclaimedOnlyWhenNoReaderIsOpen(t *testing.T) {
	body := bytes.Repeat([]byte("z"), 100)
	f, r := newForwardedBody(body)
	if f.reclaim() != nil {
		t.Fatal("reclaimed while the first reader is open")
	}
	retry, err := f.reader() // what the transport's GetBody does
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	_ = r.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("read %q", got)
	}
	if f.reclaim() != nil {
		t.Fatal("reclaimed while a retry reader is open")
	}
	_ = retry.Close()
	_ = retry.Close() // closing twice counts once
	b := f.reclaim()
	if b == nil || len(*b) != 0 || cap(*b) < len(body) {
		t.Fatalf("reclaim = %v, want the emptied buffer", b)
	}
	if f.reclaim() != nil {
		t.Error("reclaimed twice")
	}
	if _, err := f.reader(); err == nil {
		t.Error("a reader of a reclaimed body was handed out")
	}
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Error("a closed reader still reads")
	}
}
