package motoserver

import (
	"net/http"
	"os"
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

func TestMain(m *testing.M) { os.Exit(RunShared(m)) }

func TestSharedIsOneServerPerTestBinary(t *testing.T) {
	t.Run("the one named in the environment", func(t *testing.T) {
		t.Setenv(EnvURL, "http://127.0.0.1:1")
		if got := Shared(t); got != "http://127.0.0.1:1" {
			t.Fatalf("Shared = %q, want the environment's URL", got)
		}
	})
	t.Run("else one started on first use", func(t *testing.T) {
		t.Setenv(EnvURL, "")
		first := Shared(t)
		if second := Shared(t); second != first {
			t.Fatalf("second call started another server: %s, then %s", first, second)
		}
		resp, err := http.Get(first + "/moto-api/")
		if err != nil {
			t.Fatalf("the shared moto_server does not answer: %v", err)
		}
		resp.Body.Close()
	})
}
