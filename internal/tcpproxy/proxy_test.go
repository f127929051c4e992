package tcpproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is the proxy's target: it echoes what it reads and counts the
// connections it has open, so tests can see the proxy end the server's side too.
type echoServer struct {
	ln   net.Listener
	open atomic.Int64
	wg   sync.WaitGroup
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	var mu sync.Mutex
	var conns []net.Conn
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.open.Add(1)
			s.wg.Go(func() {
				defer s.open.Add(-1)
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// waitOpen waits until the server has n connections open.
func (s *echoServer) waitOpen(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.open.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("echo server has %d connections open, want %d", s.open.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and reads the echo back.
func roundTrip(c net.Conn, msg string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo differs: " + string(buf))
	}
	return nil
}

// mustBeDropped checks that c was closed by the proxy: a read fails at once (EOF or
// reset) rather than waiting out the deadline.
func mustBeDropped(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection still open after being dropped (read: %v)", err)
	}
}

func TestForwardsBothWays(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, s.ln.Addr().String())
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	for i := range 3 {
		if err := roundTrip(a, "ping from a"); err != nil {
			t.Fatalf("round trip %d on a: %v", i, err)
		}
		if err := roundTrip(b, "ping from b, longer"); err != nil {
			t.Fatalf("round trip %d on b: %v", i, err)
		}
	}
	s.waitOpen(t, 2)
	// A client closing its connection closes the server's side too.
	a.Close()
	s.waitOpen(t, 1)
}

func TestCutConnectionsDropsOpenOnesAndKeepsAccepting(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, s.ln.Addr().String())
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	for _, c := range []net.Conn{a, b} {
		if err := roundTrip(c, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	p.CutConnections()
	mustBeDropped(t, a)
	mustBeDropped(t, b)
	s.waitOpen(t, 0) // the server's sessions end too, as on a real network failure
	c := dial(t, p.Addr())
	if err := roundTrip(c, "after the cut"); err != nil {
		t.Fatalf("new connection after CutConnections: %v", err)
	}
}

func TestPauseRefusesUntilResume(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, s.ln.Addr().String())
	a := dial(t, p.Addr())
	if err := roundTrip(a, "hello"); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	mustBeDropped(t, a)
	for range 3 {
		// The TCP handshake may complete (the proxy still listens), but no byte
		// reaches the target and the connection is dropped at once.
		c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
		if err != nil {
			continue
		}
		if err := roundTrip(c, "while paused"); err == nil {
			t.Fatal("a connection made while paused reached the target")
		}
		c.Close()
	}
	s.waitOpen(t, 0)
	p.Resume()
	b := dial(t, p.Addr())
	if err := roundTrip(b, "resumed"); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
}

func TestTargetDownDropsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := newProxy(t, target)
	// The reset may arrive before the client's connect even returns.
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	mustBeDropped(t, c)
}

func TestCloseEndsEverything(t *testing.T) {
	s := newEchoServer(t)
	p, err := New(s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := dial(t, p.Addr())
	if err := roundTrip(a, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	mustBeDropped(t, a)
	s.waitOpen(t, 0)
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts connections after Close")
	}
}
