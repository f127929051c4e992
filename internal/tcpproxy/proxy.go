// Package tcpproxy is a TCP proxy for fault-injection tests: it sits between a client
// (a connection pool, a Redis client) and a real server, and can drop the connections
// it carries or make the server look down, without touching the server itself.
package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards every connection accepted on its address to the target.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // ends on Close, so no dial outlives the proxy
	cancel context.CancelFunc

	mu     sync.Mutex
	paused bool
	closed bool
	links  map[*link]struct{}

	wg sync.WaitGroup // the accept loop and every link's goroutines
}

// New starts a proxy on 127.0.0.1 (a free port) that forwards to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Pause makes the target look down: open connections are reset, and new ones are
// reset as soon as they are accepted, until Resume. The listener stays open so that
// nothing else can take the port meanwhile and clients see an immediate failure
// rather than a connect timeout.
func (p *Proxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	p.CutConnections()
}

// Resume forwards new connections again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
}

// CutConnections resets every open connection but keeps accepting new ones: a
// connection dropped mid-request or mid-transaction while the target stays up.
func (p *Proxy) CutConnections() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(true)
	}
}

// Close stops accepting, resets every open connection and waits until the proxy's
// goroutines have ended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	p.CutConnections()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// A transient error (e.g. too many open files) must not end the proxy
			// for the rest of the test.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l := &link{client: c}
		p.mu.Lock()
		if p.paused || p.closed {
			p.mu.Unlock()
			l.close(true)
			continue
		}
		// Registered before serve starts, under the lock CutConnections takes, so
		// a cut never misses a connection that was just accepted.
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve dials the target for one client and copies both ways until either side ends
// or the link is cut.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	up, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		l.close(true) // the target is really down: the client sees a reset
		return
	}
	if !l.attach(up) {
		return // cut while dialling
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, l.client)
	go pipe(l.client, up)
	<-done
	// One side ended on its own (or the link was cut, which closed both already):
	// pass the end on to the other side as an orderly close.
	l.close(false)
	<-done
}

// link is one proxied connection: the client's side and, once dialled, the target's.
type link struct {
	mu       sync.Mutex
	closed   bool
	client   net.Conn
	upstream net.Conn // nil until dialled
}

// close ends both sides, with a reset if abort. A reset (not an orderly FIN) is what
// a dropped route or a crashed peer looks like; it also makes the server end its
// session at once, so a transaction open on it is rolled back there.
func (l *link) close(abort bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	shut(l.client, abort)
	if l.upstream != nil {
		shut(l.upstream, abort)
	}
}

// attach records the dialled target connection, or closes it and reports false if
// the link was cut while dialling.
func (l *link) attach(up net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		shut(up, true)
		return false
	}
	l.upstream = up
	return true
}

func shut(c net.Conn, abort bool) {
	if tc, ok := c.(*net.TCPConn); ok && abort {
		_ = tc.SetLinger(0) // close sends RST instead of FIN
	}
	_ = c.Close()
}
