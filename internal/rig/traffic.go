package rig

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// TrafficOptions bound one traffic run. Zero fields take the defaults.
type TrafficOptions struct {
	// PacketsPerSecond is the send rate: default 100, at most MaxPacketsPerSecond.
	PacketsPerSecond int
	// FrameBytes is the datagram size: default 256, 24..2304 (an 802.11 MSDU).
	FrameBytes int
	// Count stops after this many datagrams; 0 means until ctx ends.
	Count int
}

// MaxPacketsPerSecond caps the traffic rate so a runaway sender cannot flood
// the emulated guest.
const MaxPacketsPerSecond = 5000

// SendTraffic sends frame-shaped UDP datagrams to addr (e.g.
// 127.0.0.1:UDPPort) at a fixed rate until Count is reached or ctx ends, and
// returns how many it sent. A cancelled context is not an error.
func SendTraffic(ctx context.Context, addr string, opts TrafficOptions) (int, error) {
	rate, size := opts.PacketsPerSecond, opts.FrameBytes
	if rate == 0 {
		rate = 100
	}
	if size == 0 {
		size = 256
	}
	if rate < 1 || rate > MaxPacketsPerSecond {
		return 0, fmt.Errorf("send traffic to %s: rate %d/s is outside 1..%d", addr, rate, MaxPacketsPerSecond)
	}
	if size < 24 || size > 2304 {
		return 0, fmt.Errorf("send traffic to %s: frame size %d is outside 24..2304 bytes", addr, size)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return 0, fmt.Errorf("send traffic to %s: %w", addr, err)
	}
	defer conn.Close()

	frame := make([]byte, size)
	// An 802.11 data frame header shape: frame control, duration, 3 addresses.
	copy(frame, []byte{0x08, 0x02, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // addr1
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // addr2
		0x02, 0x00, 0x00, 0x00, 0x00, 0x03}) // addr3
	// Paced by the clock, not by ticks: a late wake-up sends the frames that
	// are due (at most one second's worth), so the mean rate holds on a busy
	// host.
	interval := time.Second / time.Duration(rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Now()
	sent := 0
	for opts.Count == 0 || sent < opts.Count {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return sent, nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return sent, nil
		}
		next = next.Add(interval)
		if behind := time.Since(next); behind > time.Second {
			next = time.Now()
		}
		binary.BigEndian.PutUint32(frame[size-4:], uint32(sent))
		if _, err := conn.Write(frame); err != nil {
			// ICMP port unreachable surfaces as ECONNREFUSED on the next
			// write; the daemon may be restarting, so keep going.
			if errors.Is(err, syscall.ECONNREFUSED) && ctx.Err() == nil {
				continue
			}
			return sent, fmt.Errorf("send traffic to %s: %w", addr, err)
		}
		sent++
	}
	return sent, nil
}
