package measure

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Metrics is one scrape of a Prometheus text exposition: each sample keyed by
// its series as written, name plus labels (`fieldseal_keys_refresh_total{result="ok"}`).
type Metrics map[string]float64

// Value returns the sum of every series of the named metric and whether any
// series had that name.
func (m Metrics) Value(name string) (float64, bool) {
	var sum float64
	var found bool
	for series, v := range m {
		if seriesName(series) == name {
			sum += v
			found = true
		}
	}
	return sum, found
}

func seriesName(series string) string {
	if i := strings.IndexByte(series, '{'); i >= 0 {
		return series[:i]
	}
	return series
}

// Scrape fetches and parses a text exposition such as /metrics.
func Scrape(ctx context.Context, client *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	m, err := ParseMetrics(b)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return m, nil
}

// ParseMetrics reads the samples of a Prometheus text exposition (format
// 0.0.4). Comments and blank lines are skipped; a sample line is the series
// (name and optional {labels}), the value and an optional timestamp. The
// series ends at the line's last '}', so label values may hold spaces.
func ParseMetrics(b []byte) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		series, rest, ok := splitSeries(text)
		f := strings.Fields(rest)
		if !ok || len(f) < 1 || len(f) > 2 {
			return nil, fmt.Errorf("metrics line %d: want series, value and optional timestamp", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		m[series] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}

func splitSeries(line string) (series, rest string, ok bool) {
	if strings.IndexByte(line, '{') >= 0 {
		i := strings.LastIndexByte(line, '}')
		if i < 0 {
			return "", "", false
		}
		return line[:i+1], line[i+1:], true
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return "", "", false
	}
	return line[:i], line[i:], true
}
