// Command memguard measures what slow and hostile clients cost a running
// fieldseal (issue 11, item 6): N connections that each declare a 1 MiB JSON
// body, send a few bytes and stall, and a 1 MiB body of '[' (nesting a
// mebibyte deep). It builds fieldseal, runs it on the local key provider in
// front of a small upstream on 127.0.0.1, and prints the sidecar's resident
// set size (now and peak, from /proc) after each phase and whether it still
// serves an ordinary protected request. Every connection goes to loopback,
// and every phase is bounded in time.
//
//	go run ./bench/cmd/memguard -conns 300,2000 -hold 5s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fieldseal/fieldseal/bench/measure"
)

func main() {
	conns := flag.String("conns", "300,2000", "comma-separated numbers of stalled connections, one phase each")
	hold := flag.Duration("hold", 5*time.Second, "how long each phase holds its connections before measuring")
	flag.Parse()
	if err := run(*conns, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "memguard:", err)
		os.Exit(1)
	}
}

func run(connList string, hold time.Duration) error {
	dir, err := os.MkdirTemp("", "memguard")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "fieldseal")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/fieldseal")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build fieldseal: %w", err)
	}

	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(up, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if len(b) == 0 {
			b = []byte(`{}`)
		}
		_, _ = w.Write(b)
	}))
	proxyAddr, adminAddr := freeAddr(), freeAddr()
	cfg := fmt.Sprintf(`listen: %s
upstream: http://%s
admin_listen: %s
keys:
  provider: local
  local: { ring_file: ring.json, master_key_file: master.key }
log: { level: warn, format: json }
classes:
  email: { mode: random, keys: [email] }
routes:
  - name: customers
    methods: [POST]
    paths: [/customers]
    request: [ {path: email, class: email} ]
    response: [ {path: email, class: email} ]
`, proxyAddr, up.Addr(), adminAddr)
	if err := os.WriteFile(filepath.Join(dir, "fieldseal.yaml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	key, err := fieldseal(dir, bin, "keys", "master-key")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600); err != nil {
		return err
	}
	if _, err := fieldseal(dir, bin, "keys", "init", "--config", "fieldseal.yaml"); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "fieldseal.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	srv := exec.Command(bin, "serve", "--config", "fieldseal.yaml")
	srv.Dir, srv.Stdout, srv.Stderr = dir, logf, logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	if err := waitReady("http://" + adminAddr + "/readyz"); err != nil {
		return err
	}
	pid := srv.Process.Pid
	report := func(phase string) error {
		m, err := measure.ReadMemory(pid)
		if err != nil {
			return err
		}
		status := serves("http://" + proxyAddr + "/customers")
		fmt.Printf("| %s | %.1f | %.1f | %s |\n", phase, mb(m.RSS), mb(m.Peak), status)
		return nil
	}
	fmt.Println("| phase | RSS MB | peak RSS MB | an ordinary request |")
	fmt.Println("| --- | --- | --- | --- |")
	if err := report("idle"); err != nil {
		return err
	}
	for _, f := range strings.Split(connList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-conns: %w", err)
		}
		held := stall(proxyAddr, n)
		time.Sleep(hold)
		if err := report(fmt.Sprintf("%d stalled connections declaring 1 MiB (%d open)", n, len(held))); err != nil {
			return err
		}
		for _, c := range held {
			_ = c.Close()
		}
	}
	status := post("http://"+proxyAddr+"/customers", bytes.Repeat([]byte("["), 1<<20))
	if err := report("after a 1 MiB body of '[' (answered " + status + ")"); err != nil {
		return err
	}
	return nil
}

// stall opens n connections that each send the headers of a 1 MiB JSON POST
// and 16 bytes of it, then nothing.
func stall(addr string, n int) []net.Conn {
	var held []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break
		}
		fmt.Fprintf(c, "POST /customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"email\":\"aaaa", 1<<20)
		held = append(held, c)
	}
	return held
}

func serves(url string) string {
	return post(url, []byte(`{"email":"a@example.com"}`))
}

func post(url string, body []byte) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return strconv.Itoa(resp.StatusCode)
}

func waitReady(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("fieldseal did not become ready within 30s")
}

func fieldseal(dir, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("fieldseal %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
