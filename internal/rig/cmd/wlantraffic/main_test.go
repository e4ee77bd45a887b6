package main

import "testing"

func TestHostOfTakesTheHostFromAnyTargetForm(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty means loopback", "", "127.0.0.1"},
		{"a bare address is kept", "10.0.0.7", "10.0.0.7"},
		{"an ssh URL gives its host", "ssh://root@127.0.0.1:2222", "127.0.0.1"},
		{"user@host:port gives the host", "root@ap.lab:22", "ap.lab"},
		{"a bracketed IPv6 address is unbracketed", "[::1]:22", "::1"},
		{"an alias stays as it is", "lab-ap", "lab-ap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostOf(tt.in); got != tt.want {
				t.Errorf("hostOf(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzHostOf(f *testing.F) {
	f.Add("ssh://root@127.0.0.1:2222")
	f.Add("[::1")
	f.Fuzz(func(t *testing.T, s string) {
		_ = hostOf(s) // must not panic
	})
}
