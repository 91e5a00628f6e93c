package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// nginxBinary finds nginx (Debian's package installs /usr/sbin/nginx, which
// is not on every user's PATH); "" when it is absent.
func nginxBinary() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// errNoNginx is the note the report carries where nginx is absent.
const errNoNginx = "nginx is not installed (Debian: apt-get install nginx), so its reference rows are missing"

// nginxConfig is nginx as the plain reverse proxy users already run in front
// of an app: one process (no master, so one pid holds all the work), no
// access log, keep-alive connections to the upstream, and bodies up to 4 MB
// held in memory rather than spooled to temp files, as the Go proxies do.
func nginxConfig(dir, listen, upstream string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/nginx-tmp/body;
    proxy_temp_path %[1]s/nginx-tmp/proxy;
    fastcgi_temp_path %[1]s/nginx-tmp/fastcgi;
    uwsgi_temp_path %[1]s/nginx-tmp/uwsgi;
    scgi_temp_path %[1]s/nginx-tmp/scgi;
    client_max_body_size 8m;
    client_body_buffer_size 4m;
    proxy_buffers 64 16k;
    proxy_max_temp_file_size 0;
    upstream app {
        server %[3]s;
        keepalive 64;
    }
    server {
        listen %[2]s;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`, dir, listen, upstream)
}

// startNginx writes a config for name and starts nginx on a fresh port in
// front of the upstream, optionally under wrap (callgrind), and waits until
// it proxies /healthz.
func (h *harness) startNginx(ctx context.Context, name string, wrap []string) (p *proc, listen string, err error) {
	bin := nginxBinary()
	if bin == "" {
		return nil, "", fmt.Errorf("%s", errNoNginx)
	}
	if listen, err = freePort(); err != nil {
		return nil, "", err
	}
	dir := filepath.Join(h.dir, name)
	if err := os.MkdirAll(filepath.Join(dir, "nginx-tmp"), 0o700); err != nil {
		return nil, "", err
	}
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(nginxConfig(dir, listen, h.upstreamAddr)), 0o600); err != nil {
		return nil, "", err
	}
	args := append(append([]string{}, wrap...), bin, "-p", dir, "-c", cfg)
	if p, err = startProc(h.dir, name, nil, args[0], args[1:]...); err != nil {
		return nil, "", err
	}
	if err := waitReady(ctx, p, "http://"+listen+"/healthz", readyTimeout(wrap)); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, listen, nil
}

// readyTimeout is how long a process may take to become ready: a program
// under valgrind starts tens of times slower.
func readyTimeout(wrap []string) time.Duration {
	if len(wrap) > 0 {
		return 3 * time.Minute
	}
	return 30 * time.Second
}
