package remotetest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes each line back until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestLinkProxy_ForwardsDropsAndBlackHoles(t *testing.T) {
	p := NewLinkProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, 5*time.Second); got != "ping\n" || err != nil {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}

	p.SetHoled(true)
	if got, err := roundTrip(c, r, 300*time.Millisecond); err == nil {
		t.Fatalf("the black hole let %q through", got)
	}
	late, err := net.Dial("tcp", p.Addr()) // accepted, then hangs
	if err != nil {
		t.Fatalf("a connect during the hole was refused: %v", err)
	}
	defer late.Close()
	for deadline := time.Now().Add(5 * time.Second); p.Connections() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	p.SetHoled(false)
	// The open link resumes: the held ping comes through, then a new one.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); got != "ping\n" || err != nil {
		t.Fatalf("the held ping after the hole: %q, %v", got, err)
	}
	if got, err := roundTrip(c, r, 5*time.Second); got != "ping\n" || err != nil {
		t.Fatalf("after the hole: %q, %v", got, err)
	}
	// The connect made during the hole is closed, not forwarded.
	late.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := late.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the connect made during the hole: read %v, want EOF", err)
	}

	if n := p.DropAll(); n != 1 {
		t.Errorf("DropAll closed %d client connections, want 1", n)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("after DropAll: read %v, want EOF", err)
	}
	if got := p.Connections(); got != 2 {
		t.Errorf("%d connections accepted, want 2", got)
	}
}
