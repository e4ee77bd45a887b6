package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResolveHops_ReadsSpecsAndSSHConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	body := `Host ap
  HostName 192.0.2.7
  User admin
  Port 2200
  IdentityFile ~/keys/ap_%h
  IdentityFile /k2
  ProxyJump admin@bastion:2022,hop2
  UserKnownHostsFile /kh1 /kh2
  ConnectTimeout 7
  ServerAliveInterval 9
  ServerAliveCountMax 4
Host hop2
  HostName 198.51.100.2
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()

	hops, err := resolveHops("ap", Options{SSHConfigFile: cfg})

	if err != nil {
		t.Fatal(err)
	}
	if len(hops) != 3 {
		t.Fatalf("got %d hops, want bastion, hop2, ap", len(hops))
	}
	ap := hops[2]
	if ap.addr() != "192.0.2.7:2200" || ap.user != "admin" || ap.connectTimeout != 7*time.Second ||
		ap.keepalive != 9*time.Second || ap.keepaliveMax != 4 {
		t.Errorf("ap = %+v", ap)
	}
	if strings.Join(ap.identities, ",") != home+"/keys/ap_192.0.2.7,/k2" || ap.optionalIDs {
		t.Errorf("identities = %v", ap.identities)
	}
	if strings.Join(ap.knownHosts, ",") != "/kh1,/kh2" {
		t.Errorf("known hosts = %v", ap.knownHosts)
	}
	if hops[0].addr() != "bastion:2022" || hops[0].user != "admin" {
		t.Errorf("first jump = %+v", hops[0])
	}
	if hops[1].addr() != "198.51.100.2:22" {
		t.Errorf("second jump = %+v", hops[1])
	}
}

func TestResolveHops_OptionsOverrideTheConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte("Host ap\n  ProxyJump bastion\n  ConnectTimeout 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hops, err := resolveHops("ssh://u@ap:2", Options{SSHConfigFile: cfg, Jump: "none", ConnectTimeout: time.Second,
		KnownHostsFiles: []string{"/kh"}, IdentityFiles: []string{"/id"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hops) != 1 || hops[0].user != "u" || hops[0].port != 2 || hops[0].connectTimeout != time.Second ||
		hops[0].knownHosts[0] != "/kh" || hops[0].identities[0] != "/id" {
		t.Errorf("hops = %+v", hops)
	}
}

func TestResolveHops_RejectsBadSpecs(t *testing.T) {
	for _, spec := range []string{"ssh://h:99999", "ssh://h/path", "user@", "h:port", "a b"} {
		if _, err := resolveHops(spec, Options{SSHConfigFile: "none", User: "x"}); err == nil {
			t.Errorf("%q accepted", spec)
		}
	}
}

func FuzzResolveHops(f *testing.F) {
	for _, s := range []string{"ap", "ssh://root@[::1]:22", "u@h:1", "a,b", "ssh://%zz"} {
		f.Add(s, "b1,u@b2:3")
	}
	f.Fuzz(func(t *testing.T, spec, jump string) {
		hops, err := resolveHops(spec, Options{SSHConfigFile: "none", User: "x", Jump: jump})
		if err != nil {
			return
		}
		for _, h := range hops {
			if h.port <= 0 || h.port > 65535 || h.host == "" {
				t.Fatalf("bad hop %+v from %q", h, spec)
			}
		}
	})
}

func BenchmarkResolveHops(b *testing.B) {
	for b.Loop() {
		if _, err := resolveHops("ssh://root@192.0.2.1:2222", Options{SSHConfigFile: "none", Jump: "a,b@c:2"}); err != nil {
			b.Fatal(err)
		}
	}
}
