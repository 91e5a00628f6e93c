package proxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
)

// busyResponse is what a connection over the limit gets before it is
// closed: a complete HTTP/1.1 answer in fieldseal's error shape, so a client
// sees 503 rather than a reset.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Connection: close\r\n" +
	"Retry-After: 1\r\n" +
	"Content-Length: 105\r\n\r\n" +
	`{"error":{"code":"busy","message":"the proxy is serving as many connections as it may","request_id":""}}` + "\n"

// LimitListener serves at most max connections of l at once (limits
// max_connections); each connection past it is answered 503 (busy), closed
// and counted in fieldseal_proxy_connections_refused_total. Unlike
// golang.org/x/net/netutil.LimitListener it keeps accepting, so a flood of
// idle connections cannot leave clients waiting in the kernel's backlog
// without an answer. max <= 0 returns l.
func LimitListener(l net.Listener, max int, reg prometheus.Registerer) net.Listener {
	if max <= 0 {
		return l
	}
	refused := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fieldseal_proxy_connections_refused_total",
		Help: "Client connections answered 503 and closed because limits.max_connections were open.",
	})
	if reg != nil {
		refused = promreg.Register(reg, refused)
	}
	return &limitListener{Listener: l, max: int64(max), refused: refused}
}

type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused prometheus.Counter
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refused.Inc()
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(busyResponse))
			_ = c.Close()
		}()
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
