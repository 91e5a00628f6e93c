package sidecartest

import (
	"fmt"
	"io"
	"net/http"
)

// GetOK sends a GET of url with client and returns nil only when the
// answer is 200 OK, else the transport error or the status. It is the
// condition of a readiness poll (testproc.Poll) for a listener that a test
// reaches with a client of its own (its own TLS roots, say), and may run on
// any goroutine.
func GetOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}
