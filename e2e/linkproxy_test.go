package e2e

import (
	"net"
	"sync"
	"testing"
)

// linkProxy sits between the harness and the rig's forwarded SSH port. It
// forwards TCP until told otherwise: dropAll closes every open connection
// (a link reset: the client sees EOF at once, a new connect works), and a
// black hole keeps accepting but forwards nothing either way and closes
// nothing (a cable pulled behind a switch: connects hang, open links go
// silent).
type linkProxy struct {
	ln      net.Listener
	backend string

	mu       sync.Mutex
	holed    bool
	resume   chan struct{} // closed when the hole lifts or the proxy closes
	closed   bool
	conns    map[net.Conn]struct{}
	accepted int
	dropped  int
	wg       sync.WaitGroup
}

func newLinkProxy(t testing.TB, backend string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the link proxy: %v", err)
	}
	p := &linkProxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}, resume: make(chan struct{})}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// port is the proxy's port on 127.0.0.1.
func (p *linkProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// dropAll closes every open connection, both sides, and returns how many
// client connections were open.
func (p *linkProxy) dropAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if c.LocalAddr().String() == p.ln.Addr().String() {
			n++
		}
		c.Close()
		delete(p.conns, c)
	}
	p.dropped += n
	return n
}

// setHoled starts or ends the black hole.
func (p *linkProxy) setHoled(on bool) {
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

// connections is how many client connections the proxy accepted.
func (p *linkProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// gate waits while the proxy is black-holed; false once it is closed.
func (p *linkProxy) gate() bool {
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

func (p *linkProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *linkProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.mu.Lock()
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve forwards one client connection; a connect during the hole hangs in
// gate until the hole lifts.
func (p *linkProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	if !p.gate() {
		return
	}
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	if !p.track(b) {
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
func (p *linkProxy) pump(dst, src net.Conn, done chan<- struct{}) {
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

func (p *linkProxy) close() {
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
