package remotetest

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// LinkProxy sits between a client and a TCP backend (an SSH server) and
// breaks the link on demand: DropAll resets every open connection (the
// client sees EOF at once, a new connect works), and a black hole keeps
// accepting but forwards nothing either way and closes nothing (a cable
// pulled behind a switch: connects hang instead of being refused, open
// links go silent). When the hole lifts, open links resume and connects
// made during it are closed: their SYN never reached the server, and
// forwarding a burst of handshakes the client abandoned long ago would
// flood the server in a way no real network does.
type LinkProxy struct {
	ln      net.Listener
	backend string

	mu       sync.Mutex
	holed    bool
	resume   chan struct{} // closed when the hole lifts or the proxy closes
	closed   bool
	conns    map[net.Conn]bool // true for client-side connections
	accepted int
	wg       sync.WaitGroup
}

// NewLinkProxy listens on a free loopback port and forwards to backend
// ("host:port") until the test ends.
func NewLinkProxy(t testing.TB, backend string) *LinkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the link proxy: %v", err)
	}
	p := &LinkProxy{ln: ln, backend: backend, conns: map[net.Conn]bool{}, resume: make(chan struct{})}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *LinkProxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port on 127.0.0.1.
func (p *LinkProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Spec is an ssh:// target spec for user through the proxy.
func (p *LinkProxy) Spec(user string) string {
	return "ssh://" + user + "@127.0.0.1:" + strconv.Itoa(p.Port())
}

// DropAll closes every open connection, both sides, and returns how many
// client connections were open.
func (p *LinkProxy) DropAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c, client := range p.conns {
		if client {
			n++
		}
		c.Close()
		delete(p.conns, c)
	}
	return n
}

// SetHoled starts or ends the black hole.
func (p *LinkProxy) SetHoled(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.holed || p.closed {
		return
	}
	p.holed = on
	if on {
		p.resume = make(chan struct{})
	} else {
		close(p.resume)
	}
}

// Connections is how many client connections the proxy accepted.
func (p *LinkProxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops the proxy and closes every connection.
func (p *LinkProxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.holed {
			close(p.resume)
		}
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// gate waits while the proxy is black-holed; false once it is closed.
func (p *LinkProxy) gate() bool {
	for {
		p.mu.Lock()
		closed, holed, ch := p.closed, p.holed, p.resume
		p.mu.Unlock()
		if closed {
			return false
		}
		if !holed {
			return true
		}
		<-ch
	}
}

// track registers a connection; for a client it also says whether it
// arrived during a black hole (decided here, under the lock, at accept).
func (p *LinkProxy) track(c net.Conn, client bool) (ok, holed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false, false
	}
	p.conns[c] = client
	if client {
		p.accepted++
	}
	return true, p.holed
}

func (p *LinkProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *LinkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		ok, holed := p.track(c, true)
		if !ok {
			return
		}
		p.wg.Add(1)
		go p.serve(c, holed)
	}
}

// serve forwards one client connection; one accepted during a black hole
// hangs like a lost SYN until the hole lifts, then is closed.
func (p *LinkProxy) serve(c net.Conn, holed bool) {
	defer p.wg.Done()
	defer p.untrack(c)
	if holed {
		p.gate()
		return
	}
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	if ok, _ := p.track(b, false); !ok {
		return
	}
	defer p.untrack(b)
	done := make(chan struct{}, 2)
	p.wg.Add(2)
	go p.pump(b, c, done)
	go p.pump(c, b, done)
	<-done
	c.Close()
	b.Close()
	<-done
}

// pump copies src to dst, holding each chunk while the proxy is black-holed.
func (p *LinkProxy) pump(dst, src net.Conn, done chan<- struct{}) {
	defer p.wg.Done()
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
