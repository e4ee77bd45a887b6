package remote

import (
	"strings"
	"testing"
)

func TestParseSpec_ReadsEverySpelling(t *testing.T) {
	cases := []struct {
		spec string
		want Spec
	}{
		{"local", Spec{Transport: "local"}},
		{"local:", Spec{Transport: "local"}},
		{"local:/srv/rig", Spec{Transport: "local", Root: "/srv/rig"}},
		{"ssh://root@10.0.0.7:2222", Spec{Transport: "ssh", User: "root", Host: "10.0.0.7", Port: 2222}},
		{"ssh://10.0.0.7", Spec{Transport: "ssh", Host: "10.0.0.7"}},
		{"ssh://[fe80::1]:22", Spec{Transport: "ssh", Host: "fe80::1", Port: 22}},
		{"root@ap-rig-07", Spec{Transport: "ssh", User: "root", Host: "ap-rig-07"}},
		{"ap-rig-07:22", Spec{Transport: "ssh", Host: "ap-rig-07", Port: 22}},
		{"ap-rig-07", Spec{Transport: "ssh", Host: "ap-rig-07"}},
		{"[fe80::1]:22", Spec{Transport: "ssh", Host: "fe80::1", Port: 22}},
		{"[fe80::1]", Spec{Transport: "ssh", Host: "fe80::1"}},
		{"a@b@host", Spec{Transport: "ssh", User: "a@b", Host: "host"}},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			got, err := ParseSpec(c.spec)
			if err != nil || got != c.want {
				t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
			}
		})
	}
}

func TestParseSpec_RefusesWhatNamesNoTargetSayingWhatWorks(t *testing.T) {
	cases := []struct {
		spec string
		want string
	}{
		{"", "no target given (write local, local:/folder, ssh://user@host:port or an ssh_config alias [user@]alias[:port])"},
		{"local:rig", `parse target "local:rig": a local target serves an absolute folder (write local:/folder)`},
		{"ssh://h:99999", `parse target "ssh://h:99999": bad port "99999" (give a number from 1 to 65535)`},
		{"h:port", `parse target "h:port": bad port "port" (give a number from 1 to 65535)`},
		{"ssh://h/path", `parse target "ssh://h/path": unexpected path "/path" (write ssh://user@host:port)`},
		{"user@", `parse target "user@": no usable host (write local, local:/folder, ssh://user@host:port or an ssh_config alias [user@]alias[:port])`},
		{"a b", `parse target "a b": no usable host (write local, local:/folder, ssh://user@host:port or an ssh_config alias [user@]alias[:port])`},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			_, err := ParseSpec(c.spec)
			if err == nil || err.Error() != c.want {
				t.Errorf("ParseSpec(%q) error = %v\nwant %s", c.spec, err, c.want)
			}
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"local", "local:/x", "ssh://root@[::1]:22", "u@h:1", "[fe80::1]", "ssh://%zz", "a@b@c:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSpec(spec)
		if err != nil {
			return
		}
		switch s.Transport {
		case "local":
			if s.Host != "" || s.User != "" || s.Port != 0 || (s.Root != "" && !strings.HasPrefix(s.Root, "/")) {
				t.Fatalf("local spec %q parsed as %+v", spec, s)
			}
		case "ssh":
			if s.Host == "" || strings.ContainsAny(s.Host, " \t\n/") || s.Port < 0 || s.Port > 65535 || s.Root != "" {
				t.Fatalf("ssh spec %q parsed as %+v", spec, s)
			}
		default:
			t.Fatalf("spec %q has transport %q", spec, s.Transport)
		}
	})
}
