package awse2e_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// load sends POST-then-GET pairs of fresh customers through the proxy from
// several goroutines, until stopped or until it has sent maxPairs pairs.
type load struct {
	s        *sidecar
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	sent     atomic.Int64 // pairs started
	ok       atomic.Int64 // requests answered correctly

	mu       sync.Mutex
	failures []string
	created  []createdCustomer
}

type createdCustomer struct {
	id   string
	doc  map[string]any
	when time.Time // when the POST was sent
}

func startLoad(s *sidecar, prefix string, workers int, maxPairs int64) *load {
	l := &load{s: s, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if l.sent.Add(1) > maxPairs {
					return
				}
				l.pair(customer(fmt.Sprintf("%s-%d-%d", prefix, w, i)))
			}
		}()
	}
	return l
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *load) pair(c map[string]any) {
	when := time.Now()
	status, raw, err := do(http.MethodPost, l.s.URL+"/customers", c)
	if err != nil || status != http.StatusCreated {
		l.fail("POST: status %d, %v: %s", status, err, raw)
		return
	}
	if err := checkOpened(raw, c); err != nil {
		l.fail("POST: %v", err)
		return
	}
	l.ok.Add(1)
	var id string
	if obj, err := decodeID(raw); err == nil {
		id = obj
	}
	l.mu.Lock()
	l.created = append(l.created, createdCustomer{id: id, doc: c, when: when})
	l.mu.Unlock()
	status, raw, err = do(http.MethodGet, l.s.URL+"/customers/"+id, nil)
	if err != nil || status != http.StatusOK {
		l.fail("GET %s: status %d, %v: %s", id, status, err, raw)
		return
	}
	if err := checkOpened(raw, c); err != nil {
		l.fail("GET %s: %v", id, err)
		return
	}
	l.ok.Add(1)
}

// waitOK waits until at least n requests succeeded since the load started.
func (l *load) waitOK(t *testing.T, n int64) {
	t.Helper()
	testproc.Poll(t, 60*time.Second, func() error {
		if ok := l.ok.Load(); ok < n {
			return fmt.Errorf("only %d of %d requests succeeded; failures: %v", ok, n, l.failuresSoFar())
		}
		return nil
	})
}

// wait waits until the load has sent all its pairs.
func (l *load) wait() []string {
	l.wg.Wait()
	return l.failuresSoFar()
}

// finish stops the load, waits for the goroutines and returns the failures.
func (l *load) finish() []string {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	return l.failuresSoFar()
}

func (l *load) failuresSoFar() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

func (l *load) customers() []createdCustomer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]createdCustomer(nil), l.created...)
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }
