package kmemleak

import "testing"

// TestFrameParser_Lines reads each frame shape the kernel prints.
func TestFrameParser_Lines(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Frame
		ok   bool
	}{
		{"page_owner's leading space and a module", " wlansim_rx_fill+0x1c/0x60 [wlansim]\n", Frame{Function: "wlansim_rx_fill", Offset: "+0x1c/0x60", Module: "wlansim", OffsetBytes: 0x1c, LengthBytes: 0x60}, true},
		{"a built-in frame", "  post_alloc_hook+0x1b0/0x1c0", Frame{Function: "post_alloc_hook", Offset: "+0x1b0/0x1c0", OffsetBytes: 0x1b0, LengthBytes: 0x1c0}, true},
		{"a module with a build id", "f+0x1/0x2 [mod 0123abcd]", Frame{Function: "f", Offset: "+0x1/0x2", Module: "mod", OffsetBytes: 1, LengthBytes: 2}, true},
		{"an address prefix as kmemleak prints it", "[<ffffffff8112a3c4>] vfs_write+0xd2/0x3f0", Frame{Function: "vfs_write", Offset: "+0xd2/0x3f0", OffsetBytes: 0xd2, LengthBytes: 0x3f0}, true},
		{"a bare address (unloaded module)", " 0xffffffffc0a21136", Frame{Function: "0xffffffffc0a21136", Raw: true}, true},
		{"a counter line is no frame", "nr_base_pages: 12", Frame{}, false},
		{"a blank line is no frame", "   ", Frame{}, false},
		{"an unclosed module is no frame", "f+0x1/0x2 [mod", Frame{}, false},
	}
	p := NewFrameParser()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.Parse([]byte(tt.line))
			if ok != tt.ok || got != tt.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestBlamer_AgreesWithThePackageFunctions checks the memoised path against
// Culprit and SignatureOf on every fixture's stacks.
func TestBlamer_AgreesWithThePackageFunctions(t *testing.T) {
	for _, name := range []string{"arm64-5.4-wifi.txt", "x86_64-6.12.117-qemu-rig.txt", "x86_64-6.13-nokallsyms.txt"} {
		rep := parseFixture(t, name, Options{})
		b := NewBlamer([]string{"wlansim", "hostadpt_"})
		for _, o := range rep.Objects {
			want := Culprit(o.Frames, []string{"wlansim", "hostadpt_"})
			got := b.Culprit(o.Frames)
			if (want == nil) != (got == nil) || (want != nil && *want != *got) {
				t.Errorf("%s: Blamer culprit %+v, Culprit %+v", name, got, want)
			}
			if b.Signature(o.Frames) != SignatureOf(o.Frames) {
				t.Errorf("%s: Blamer signature %q, SignatureOf %q", name, b.Signature(o.Frames), SignatureOf(o.Frames))
			}
		}
	}
}
