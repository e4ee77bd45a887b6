package rig

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestShellQuoteKeepsEveryArgumentLiteralInARealShell(t *testing.T) {
	tests := []struct {
		name string
		argv []string
	}{
		{"plain words stay as they are", []string{"cat", "/proc/slabinfo"}},
		{"a single quote survives", []string{"it's"}},
		{"shell syntax is not interpreted", []string{"$(id)", "`id`", "a;b", "x > /tmp/f", "*"}},
		{"empty and whitespace arguments are kept", []string{"", " ", "\t\n"}},
		{"backslashes and double quotes are kept", []string{`a\b`, `"q"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shellEcho(t, tt.argv)
			if !slices.Equal(got, tt.argv) {
				t.Errorf("sh saw %q, want %q", got, tt.argv)
			}
		})
	}
}

// shellEcho runs `printf '%s\0' <quoted argv>` in /bin/sh and splits the result.
func shellEcho(t testing.TB, argv []string) []string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", "printf '%s\\0' "+ShellQuote(argv)).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	parts := strings.Split(string(out), "\x00")
	return parts[:len(parts)-1]
}

func FuzzShellQuote(f *testing.F) {
	f.Add("it's", "$(reboot)")
	f.Add("", "\\'\"")
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a+b, 0) {
			return // NUL cannot be in an argv
		}
		argv := []string{a, b}
		if got := shellEcho(t, argv); !slices.Equal(got, argv) {
			t.Errorf("sh saw %q, want %q", got, argv)
		}
	})
}

func BenchmarkShellQuote(b *testing.B) {
	argv := []string{"sh", "-c", `printf '%s\n' "$1" > "/sys/module/wlansim/parameters/$2"`, "sh", "1", "leak"}
	for b.Loop() {
		_ = ShellQuote(argv)
	}
}

func TestBootArgsPassOptionsAndRejectBadParameterNames(t *testing.T) {
	p := Paths{Dir: "/cache/rig/abc"}
	tests := []struct {
		name    string
		opts    BootOptions
		want    []string
		wantErr bool
	}{
		{"defaults pass only the build", BootOptions{}, []string{"--rig", "/cache/rig/abc"}, false},
		{"cmdline, sorted params and the daemon leak are passed", BootOptions{
			Cmdline:         []string{"kmemleak=off"},
			ModuleParams:    map[string]string{"leak_every": "8", "leak": "1"},
			DaemonLeakBytes: 4096, Accel: "tcg", Memory: "256M", BootTimeout: 2 * time.Minute, AllowReboot: true,
		}, []string{"--rig", "/cache/rig/abc", "--append", "kmemleak=off", "--param", "leak=1", "--param", "leak_every=8",
			"--daemon-leak", "4096", "--accel", "tcg", "--mem", "256M", "--timeout", "120", "--allow-reboot"}, false},
		{"a parameter name with = is refused", BootOptions{ModuleParams: map[string]string{"a=b": "1"}}, nil, true},
		{"an empty parameter name is refused", BootOptions{ModuleParams: map[string]string{"": "1"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bootArgs(p, tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("args = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPathsInRefusesAnUnfinishedBuild(t *testing.T) {
	dir := t.TempDir()
	if _, err := PathsIn(dir); err == nil {
		t.Fatal("PathsIn accepted a folder without .done")
	}
	if err := os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := PathsIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kernel != filepath.Join(dir, "bzImage") || p.IdentityFile != filepath.Join(dir, "keys", "id_ed25519") {
		t.Errorf("paths = %+v", p)
	}
}

func TestScriptsDirFindsTestdataRigFromThePackage(t *testing.T) {
	dir, err := ScriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"build.sh", "boot.sh", "stop.sh", "kernel.fragment", "initramfs/init"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	t.Setenv("LEAKGATE_RIG_SCRIPTS", t.TempDir())
	if _, err := ScriptsDir(); err == nil {
		t.Error("ScriptsDir accepted LEAKGATE_RIG_SCRIPTS without build.sh")
	}
}

func TestSendTrafficDeliversTheCountOfFrameSizedDatagrams(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx := context.Background()
	n, err := SendTraffic(ctx, pc.LocalAddr().String(), TrafficOptions{PacketsPerSecond: 1000, FrameBytes: 100, Count: 20})
	if err != nil || n != 20 {
		t.Fatalf("sent %d, err %v; want 20", n, err)
	}
	buf := make([]byte, 4096)
	got := 0
	for got < 20 {
		if err := pc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		m, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("received %d of 20: %v", got, err)
		}
		if m != 100 || buf[0] != 0x08 {
			t.Fatalf("datagram %d: %d bytes starting %#x, want 100 bytes of an 802.11 data frame", got, m, buf[0])
		}
		got++
	}
}

func TestSendTrafficRefusesUnboundedRatesAndBadSizes(t *testing.T) {
	tests := []struct {
		name string
		opts TrafficOptions
	}{
		{"a rate above the cap", TrafficOptions{PacketsPerSecond: MaxPacketsPerSecond + 1}},
		{"a negative rate", TrafficOptions{PacketsPerSecond: -1}},
		{"a frame larger than an MSDU", TrafficOptions{FrameBytes: 5000}},
		{"a frame smaller than a header", TrafficOptions{FrameBytes: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SendTraffic(context.Background(), "127.0.0.1:9", tt.opts); err == nil {
				t.Error("SendTraffic accepted it")
			}
		})
	}
}

func TestSendTrafficStopsWhenTheContextEnds(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := SendTraffic(ctx, pc.LocalAddr().String(), TrafficOptions{})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n != 0 {
		t.Errorf("sent %d datagrams after cancel", n)
	}
}

func TestBuildFailureSaysWhatToDoAndKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'rig: missing /usr/src/linux-source-6.12.tar.xz' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEAKGATE_RIG_SCRIPTS", dir)
	_, err := Build(context.Background())
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BuildError", err)
	}
	for _, want := range []string{"linux-source-6.12", "scripts/deps.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBuildReturnsThePathsOfTheFolderBuildShPrints(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cache", "abc")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, ".done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'rig: building' >&2\necho \"$RIG_TEST_OUT\"\n"
	if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEAKGATE_RIG_SCRIPTS", dir)
	t.Setenv("RIG_TEST_OUT", out)
	p, err := Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != out || p.Initramfs != filepath.Join(out, "initramfs.cpio.gz") {
		t.Errorf("paths = %+v, want the folder %s", p, out)
	}
}
