package motoserver

import (
	"net/http"
	"testing"
	"time"
)

func TestStopIsAnOutageAndRestartComesBackOnTheSamePort(t *testing.T) {
	m := Start(t)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	answers := func() bool {
		resp, err := client.Get(m.URL + "/moto-api/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	if !answers() {
		t.Fatal("moto does not answer after Start")
	}
	m.Stop()
	if answers() {
		t.Fatal("moto still answers after Stop")
	}
	port := m.Port
	m.Restart()
	if m.Port != port || !answers() {
		t.Fatalf("after Restart: port %d (was %d), answers %v", m.Port, port, answers())
	}
	m.Stop()
	m.Stop() // stopping a stopped server does nothing
}
