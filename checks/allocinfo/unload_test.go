package allocinfo

import "testing"

func TestParseUnload_FindsEachSiteTheKernelWarnsAbout(t *testing.T) {
	log := []byte(`[  812.114402] wlansim: unloading
[  812.120001] ------------[ cut here ]------------
[  812.120377] drivers/net/wireless/wlansim/wlansim.c:212 module wlansim func:wlansim_rx_fill has 1048576 allocated at module unload
[  812.121040] WARNING: CPU: 0 PID: 201 at lib/alloc_tag.c:171 alloc_tag_module_unload+0xf4/0x140
wlansim.c:88 module wlansim func:wlansim_alloc_rx_buf has 576 allocated at module unload
[  812.130000] some other line with module words has 12 allocated
`)
	got := ParseUnload(log)
	if len(got) != 2 {
		t.Fatalf("got %d sites, want 2: %+v", len(got), got)
	}
	if k := got[0].Key(); k != "drivers/net/wireless/wlansim/wlansim.c:212 [wlansim] func:wlansim_rx_fill" || got[0].Bytes != 1048576 {
		t.Errorf("first %q %d bytes", k, got[0].Bytes)
	}
	if got[1].Func != "wlansim_alloc_rx_buf" || got[1].Bytes != 576 || got[1].Line != 88 {
		t.Errorf("second %+v", got[1])
	}
}

func FuzzParseUnload(f *testing.F) {
	f.Add([]byte("a.c:1 module m func:f has 9 allocated at module unload\n"))
	f.Add([]byte("x:99999999999999999999 module m func:f has 1 allocated at module unload"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, h := range ParseUnload(b) {
			if h.Bytes < 0 || h.Line < 0 || h.Func == "" || h.Module == "" {
				t.Fatalf("impossible site %+v", h)
			}
		}
	})
}
