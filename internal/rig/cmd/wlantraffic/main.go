// Command wlantraffic sends frame-shaped UDP datagrams into the leakgate rig
// (QEMU forwards them to wlansimd, which feeds wlansim's RX path) at a bounded
// rate until its duration ends or it gets SIGINT/SIGTERM.
//
//	go run ./internal/rig/cmd/wlantraffic -rate 100 -size 256 -duration 5m
//
// The address defaults to $LEAKGATE_TARGET_HOST:$RIG_UDP_PORT (the host part
// of a target spec such as ssh://root@127.0.0.1:2222 is taken; 127.0.0.1 when
// unset).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/leakgate/leakgate/internal/rig"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wlantraffic:", err)
		os.Exit(1)
	}
}

func run() error {
	host := hostOf(os.Getenv("LEAKGATE_TARGET_HOST"))
	addr := flag.String("addr", "", "UDP address (default $LEAKGATE_TARGET_HOST:$RIG_UDP_PORT)")
	rate := flag.Int("rate", 100, fmt.Sprintf("datagrams per second (1..%d)", rig.MaxPacketsPerSecond))
	size := flag.Int("size", 256, "datagram size in bytes (24..2304)")
	count := flag.Int("count", 0, "stop after this many datagrams (0: no limit)")
	duration := flag.Duration("duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	flag.Parse()
	if *addr == "" {
		port := os.Getenv("RIG_UDP_PORT")
		if port == "" {
			return fmt.Errorf("no address: pass -addr or set RIG_UDP_PORT (boot the rig with make rig-up)")
		}
		*addr = net.JoinHostPort(host, port)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	start := time.Now()
	n, err := rig.SendTraffic(ctx, *addr, rig.TrafficOptions{PacketsPerSecond: *rate, FrameBytes: *size, Count: *count})
	fmt.Fprintf(os.Stderr, "wlantraffic: sent %d datagrams to %s in %s\n", n, *addr, time.Since(start).Round(time.Millisecond))
	return err
}

// hostOf returns the host in a target host or spec: "127.0.0.1",
// "root@10.0.0.1:22" and "ssh://root@127.0.0.1:2222" all work; "" gives
// 127.0.0.1.
func hostOf(spec string) string {
	if spec == "" {
		return "127.0.0.1"
	}
	if strings.Contains(spec, "://") {
		if u, err := url.Parse(spec); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	if i := strings.LastIndexByte(spec, '@'); i >= 0 {
		spec = spec[i+1:]
	}
	if h, _, err := net.SplitHostPort(spec); err == nil {
		return h
	}
	return strings.Trim(spec, "[]")
}
