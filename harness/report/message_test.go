package report

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

func TestMessage(t *testing.T) {
	tests := []struct {
		name string
		run  func() Run
		// lines must each appear as a whole line of the message.
		lines []string
		// contains must each appear somewhere; absent must not.
		contains, absent []string
	}{{
		name: "a slab leak corroborated by kmemleak names cache, culprit, backtrace and exhaustion",
		run:  slabLeakRun,
		lines: []string{
			"leak: slab cache kmalloc-8192 +1533 objects (+12.0 MiB, +127.8/h, p<1e-9, 71/71 intervals rising) on ap-rig-07",
			"  culprit pci_rx_dma_done_handle [mt7916_ap] — +1512 kmemleak objects (+11.8 MiB, +21.3/scan, seen in 72/73 scans, rising in 71/71)",
			"    __kmalloc_track_caller ← __alloc_skb ← skbmgr_alloc_skb4k [hostadpt] ← hostadpt_rx_handler [hostadpt] ← pci_rx_dma_done_handle [mt7916_ap]",
			"  MemAvailable exhausted in ~41 h at this rate",
			"suspect: slab cache dentry +40 objects (+7.5 KiB, +3.1/h, p=0.013, 40/71 intervals rising) — significant but below the materiality floor",
			"  run: 1 gap (first at sample 31: ssh: link dropped; reconnected after 42s)",
			"  evidence: out/wifi_soak/20261124T2000Z-ap-rig-07/report.html",
		},
		absent: []string{"kmemleak_alloc", "tasklet_action_common", "kmalloc-64", "not ready", "reboot"},
	}, {
		name: "a process leak speaks of the process in bytes",
		run: func() Run {
			r := baseRun()
			r.Findings = []checks.Finding{{Kind: checks.KindProcess, Subject: "hostapd", Verdict: verdict.Leak,
				Unit: "bytes", SlopePerHour: 1.5 * (1 << 20), P: 2.1e-5, Growth: 18 << 20, Samples: 73, Rising: 60}}
			return r
		},
		lines:  []string{"leak: process hostapd +18.0 MiB (+1.5 MiB/h, p=2.1e-05, 60/72 intervals rising) on ap-rig-07"},
		absent: []string{"culprit", "exhausted"},
	}, {
		name: "a meminfo leak in kB prints binary units and its time to exhaustion",
		run: func() Run {
			r := baseRun()
			r.Findings = []checks.Finding{{Kind: checks.KindMeminfo, Subject: "SUnreclaim", Verdict: verdict.Leak,
				Unit: "kB", SlopePerHour: 4096, P: 4e-4, Growth: 49152, Samples: 73, Rising: 70,
				TimeToExhaustion: 100 * time.Hour}}
			return r
		},
		lines: []string{
			"leak: meminfo SUnreclaim +48.0 MiB (+4.0 MiB/h, p=4.0e-04, 70/72 intervals rising) on ap-rig-07",
			"  MemAvailable exhausted in ~4.2 d at this rate",
		},
	}, {
		name: "a kmemleak signature on its own shows its culprit and trace",
		run: func() Run {
			r := baseRun()
			c := kmemleak.Frame{Function: "pci_rx_dma_done_handle", Module: "mt7916_ap"}
			r.Findings = []checks.Finding{{Kind: checks.KindKmemleak, Subject: "pci_rx_dma_done_handle", Verdict: verdict.Leak,
				Unit: "objects", SlopePerHour: 126, P: 1e-12, Growth: 1512, Samples: 72, Rising: 71, Culprit: &c, Frames: rxFrames()}}
			return r
		},
		lines: []string{
			"leak: kmemleak signature pci_rx_dma_done_handle +1512 objects (+21.3/scan, seen in 72/73 scans, rising in 71/71) on ap-rig-07",
			"  culprit pci_rx_dma_done_handle [mt7916_ap]",
		},
		contains: []string{"__alloc_skb ← skbmgr_alloc_skb4k [hostadpt]"},
	}, {
		name: "a reboot says at which sample, shows the console tail and what to do",
		run: func() Run {
			r := baseRun()
			r.Verdict = verdict.Fail
			r.Samples = 6
			r.Reboot = &Reboot{AtSample: 5, OldBootID: "3f1c9a2e-1111-2222-3333-444455556666", NewBootID: "9b07d4c1-aaaa-bbbb-cccc-ddddeeeeffff",
				Evidence: "[ 4210.1] Out of memory: Killed process 812 (hostapd)\n[ 4212.9] Kernel panic - not syncing: OOM\n"}
			return r
		},
		lines: []string{
			"reboot: the target on ap-rig-07 rebooted at sample 5 of 73 (boot_id 3f1c9a2e → 9b07d4c1); leaks cannot be judged across a reboot",
			"    [ 4212.9] Kernel panic - not syncing: OOM",
			"  look for a panic, OOM or watchdog reset in the console log and raw/, fix it, then rerun the soak",
		},
		absent: []string{"pass:", "ended at sample"},
	}, {
		name: "a kernel that is not ready lists each failed check with its remediation",
		run: func() Run {
			r := baseRun()
			r.Verdict = verdict.Fail
			r.Samples = 0
			r.Preflight = []Check{
				{Name: "CONFIG_DEBUG_KMEMLEAK", Status: verdict.CheckFail, Seen: "not set", Remediation: "rebuild the kernel with CONFIG_DEBUG_KMEMLEAK=y"},
				{Name: "CONFIG_SLUB_DEBUG", Status: verdict.CheckOK, Seen: "y"},
				{Name: "kmemleak", Status: "missing", Seen: "/sys/kernel/debug/kmemleak absent", Remediation: "boot with kmemleak=on"},
			}
			return r
		},
		lines: []string{
			"not ready: kernel 6.12.48-openwrt on ap-rig-07 cannot show leaks; 2 of 3 preflight checks failed",
			"  CONFIG_DEBUG_KMEMLEAK: not set — rebuild the kernel with CONFIG_DEBUG_KMEMLEAK=y",
			"  kmemleak: /sys/kernel/debug/kmemleak absent — boot with kmemleak=on",
		},
		absent: []string{"CONFIG_SLUB_DEBUG", "pass:", "run:"},
	}, {
		name: "a failed run's own summary does not pose as an error beside its leak blocks",
		run: func() Run {
			r := slabLeakRun()
			r.Error = "ended early at sample 40 of 73: slab kmalloc-8192 leaks"
			return r
		},
		lines:  []string{"leak: slab cache kmalloc-8192 +1533 objects (+12.0 MiB, +127.8/h, p<1e-9, 71/71 intervals rising) on ap-rig-07"},
		absent: []string{"error:", "fail:"},
	}, {
		name: "a failure no finding explains shows the harness's words",
		run: func() Run {
			r := baseRun()
			r.Verdict = verdict.Fail
			r.Error = "MemAvailable 3.1 MiB fell below the 8 MiB floor at sample 12"
			return r
		},
		lines:  []string{"fail: MemAvailable 3.1 MiB fell below the 8 MiB floor at sample 12 on ap-rig-07"},
		absent: []string{"pass:"},
	}, {
		name: "a bidi override in a name is shown, not obeyed",
		run: func() Run {
			r := baseRun()
			r.Findings = []checks.Finding{{Kind: checks.KindSlab, Subject: "good\u202edab", Verdict: verdict.Leak, Unit: "objects", Growth: 5, SlopePerHour: 1, P: 0.5}}
			return r
		},
		contains: []string{`leak: slab cache good\u202edab +5 objects`},
		absent:   []string{"\u202e"},
	}, {
		name: "a slab cache judged in bytes is counted in objects when its object size is known",
		run: func() Run {
			r := baseRun()
			r.Findings = []checks.Finding{{Kind: checks.KindSlab, Subject: "kmalloc-8192", Verdict: verdict.Leak,
				Unit: "bytes", ObjectSizeBytes: 8192, Growth: 1533 * 8192, GrowthBytes: 1530 * 8192,
				SlopePerHour: 127.8 * 8192, P: 3e-14, PRaw: 1e-15, Samples: 67, Rising: 66, Monotonic: 0.97}}
			return r
		},
		lines: []string{"leak: slab cache kmalloc-8192 +1533 objects (+12.0 MiB, +127.8/h, p<1e-9, 66/66 intervals rising) on ap-rig-07"},
	}, {
		name: "the MemAvailable floor, a finding without a series, is told by its reason",
		run: func() Run {
			r := baseRun()
			r.Verdict = verdict.Fail
			r.Findings = []checks.Finding{{Kind: checks.KindMeminfo, Subject: "MemAvailable", Verdict: verdict.Leak, Unit: "bytes",
				Reason: "MemAvailable is 9.5 MiB, below the 16.0 MiB floor: the target is about to run out of memory"}}
			return r
		},
		lines: []string{
			"leak: meminfo MemAvailable on ap-rig-07",
			"  why: MemAvailable is 9.5 MiB, below the 16.0 MiB floor: the target is about to run out of memory",
		},
		absent: []string{"+0 B", "p<1e-9"},
	}, {
		name: "a falling MemAvailable counts falling intervals",
		run: func() Run {
			r := baseRun()
			r.Findings = []checks.Finding{{Kind: checks.KindMeminfo, Subject: "MemAvailable", Verdict: verdict.Leak, Unit: "bytes",
				Growth: -(48 << 20), SlopePerHour: -(4 << 20), P: 1e-6, Samples: 67, Rising: 60}}
			return r
		},
		lines: []string{"leak: meminfo MemAvailable -48.0 MiB (-4.0 MiB/h, p=1.0e-06, 60/66 intervals falling) on ap-rig-07"},
	}, {
		name: "a kmemleak signature is named by its digest; its frames are the trace",
		run: func() Run {
			r := baseRun()
			c := kmemleak.Frame{Function: "wl_add_sta", Module: "wlansim"}
			r.Findings = []checks.Finding{{Kind: checks.KindKmemleak, Verdict: verdict.Leak, Unit: "objects",
				Subject: "9f86d081884c7d65 __kmalloc_cache_noprof < wl_add_sta [wlansim] < wl_assoc [wlansim]",
				Growth:  40, GrowthBytes: 40 * 256, Samples: 12, Rising: 11, Culprit: &c,
				Frames: []kmemleak.Frame{{Function: "__kmalloc_cache_noprof"}, c, {Function: "wl_assoc", Module: "wlansim"}}}}
			return r
		},
		lines: []string{
			"leak: kmemleak signature 9f86d081884c7d65 +40 objects (+10.0 KiB, +3.6/scan, seen in 12/73 scans, rising in 11/11) on ap-rig-07",
			"  culprit wl_add_sta [wlansim]",
			"    __kmalloc_cache_noprof ← wl_add_sta [wlansim]",
		},
		absent: []string{"p<1e-9", "wl_assoc"},
	}, {
		name: "a run that never started prints no times",
		run: func() Run {
			return Run{Target: "rig", Verdict: verdict.Error, Error: "dial rig: connection refused; check the address"}
		},
		lines:  []string{"error: dial rig: connection refused; check the address on rig"},
		absent: []string{"over", "after", "h0m"},
	}, {
		name: "a clean run says pass with what was judged",
		run:  baseRun,
		lines: []string{
			"pass: no leak on ap-rig-07 — 9 series over 12 h, 73 samples",
		},
		absent: []string{"leak:", "suspect:", "run:"},
	}, {
		name: "a clean run judged by checks.Judge says how many series it judged",
		run: func() Run {
			r := baseRun()
			r.SeriesJudged, r.SeriesInsufficient = 312, 4
			return r
		},
		lines: []string{"pass: no leak on ap-rig-07 — 312 series judged (4 with too few samples) over 12 h, 73 samples"},
	}, {
		name: "an error says what failed",
		run: func() Run {
			r := baseRun()
			r.Verdict = verdict.Error
			r.Samples = 12
			r.Error = "connect ap-rig-07: host key changed; update known_hosts"
			return r
		},
		lines: []string{
			"error: connect ap-rig-07: host key changed; update known_hosts on ap-rig-07",
			"  run: ended at sample 12 of 73 after 12 h",
		},
		absent: []string{"pass:"},
	}, {
		name: "a hostile name cannot forge lines or escape sequences",
		run: func() Run {
			r := baseRun()
			r.Findings = []checks.Finding{{Kind: checks.KindProcess, Subject: "evil\nleak: fake\x1b[31m\xff", Verdict: verdict.Leak,
				Unit: "bytes", Growth: 1 << 20, SlopePerHour: 1 << 20, P: 0.001, Samples: 2, Rising: 1}}
			return r
		},
		lines:  []string{`leak: process evil\nleak: fake\x1b[31m` + "\uFFFD" + ` +1.0 MiB (+1.0 MiB/h, p=0.001, 1/1 intervals rising) on ap-rig-07`},
		absent: []string{"\x1b", "\nleak: fake"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := Message(tt.run())

			got := map[string]bool{}
			for _, l := range strings.Split(msg, "\n") {
				got[l] = true
			}
			for _, l := range tt.lines {
				if !got[l] {
					t.Errorf("line missing:\n%s\nmessage:\n%s", l, msg)
				}
			}
			for _, s := range tt.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("%q missing from:\n%s", s, msg)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(msg, s) {
					t.Errorf("%q should not be in:\n%s", s, msg)
				}
			}
		})
	}
}

func TestMessage_LeaksComeBeforeSuspectsWhateverTheOrder(t *testing.T) {
	r := slabLeakRun()
	r.Findings[0], r.Findings[1] = r.Findings[1], r.Findings[0]

	msg := Message(r)

	if !strings.HasPrefix(msg, "leak: slab cache kmalloc-8192") {
		t.Fatalf("message does not open with the leak:\n%s", msg)
	}
}

func TestMessage_ManyLeaksAreCapped(t *testing.T) {
	r := manySeriesRun(300, 73)

	msg := Message(r)

	if n := strings.Count(msg, "\nleak: ") + 1; n != maxMessageLeaks {
		t.Errorf("%d leak blocks, want %d", n, maxMessageLeaks)
	}
	if !strings.Contains(msg, "… and 20 more leaks in report.html") {
		t.Errorf("no pointer to the rest:\n%s", msg)
	}
}

// baseRun is a clean 12 h run of the fixture rig, no findings.
func baseRun() Run {
	r := slabLeakRun()
	r.Verdict = verdict.Pass
	r.Findings = nil
	r.Gaps = nil
	return r
}

func FuzzMessage(f *testing.F) {
	f.Add("kmalloc-8192", "pci_rx_dma_done_handle", "mt7916_ap", 1533.0, "objects")
	f.Add(hostile, "\x00", "\n", -1.0, "kB")
	f.Fuzz(func(t *testing.T, subject, fn, mod string, growth float64, unit string) {
		r := slabLeakRun()
		r.Findings[0].Subject = "«" + subject + "»"
		r.Findings[0].Growth = growth
		r.Findings[0].Unit = unit
		r.Findings[0].Evidence[0].Culprit = &kmemleak.Frame{Function: fn, Module: mod}
		r.Findings[0].Evidence[0].Frames = append(r.Findings[0].Evidence[0].Frames, kmemleak.Frame{Function: fn, Module: mod})

		msg := Message(r)

		if strings.ContainsAny(msg, "\x1b\r\x00") {
			t.Errorf("control characters reached the message: %q", msg)
		}
		if n := strings.Count(msg, "\nleak: "); n != 0 {
			t.Errorf("a name forged a leak line: %q", msg)
		}
		r.Series = nil // charts are slow under coverage; their text goes through vgsvg's escaping
		var page strings.Builder
		if err := WriteHTML(&page, r); err != nil {
			t.Fatal(err)
		}
		// Fenced, the raw subject can only be in the page if it went unescaped.
		if fenced := "«" + subject + "»"; strings.ContainsAny(subject, `<>&"'`) && utf8.ValidString(subject) &&
			strings.Contains(page.String(), fenced) {
			t.Errorf("raw subject %q in the page", subject)
		}
	})
}
