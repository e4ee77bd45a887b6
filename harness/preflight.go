package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/kconfig"
	"github.com/leakgate/leakgate/checks/pageowner"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/remote"
)

// PreflightResult is what the preflight saw on the target and whether a soak
// there can see leaks.
type PreflightResult struct {
	Ready  bool           `json:"ready"`
	Kernel string         `json:"kernel,omitempty"`
	Checks []report.Check `json:"checks"`
	// ConfigSource is where the kernel config was read from; ConfigDigest
	// its SHA-256, so two runs can be compared.
	ConfigSource string `json:"config_source,omitempty"`
	ConfigDigest string `json:"config_digest,omitempty"`
	// Notes are things the preflight did to the target (mounting debugfs).
	Notes []string `json:"notes,omitempty"`
	// MountedDebugfs is true when the preflight mounted debugfs, and
	// StoppedAutoScan when it stopped kmemleak's automatic scan thread
	// (scan=off, so the harness owns every scan) on a kernel that runs one.
	// RestoreTarget undoes both.
	MountedDebugfs  bool `json:"mounted_debugfs,omitempty"`
	StoppedAutoScan bool `json:"stopped_auto_scan,omitempty"`
	// CountThreshold is page_owner's count_threshold before the preflight
	// raised it ("" when it did not); RestoreTarget writes it back.
	CountThreshold string `json:"count_threshold,omitempty"`
	// AllocCallsCaches are the caches whose sysfs alloc_calls each sample
	// reads (kernels before 5.14 booted with slub_debug=U): the allocation
	// sites a slab finding names.
	AllocCallsCaches []string `json:"alloc_calls_caches,omitempty"`
}

// maxAllocCallsCaches bounds the alloc_calls files one sample reads (each is
// up to a page); slub_debug=U on every cache of a big kernel would be
// hundreds.
const maxAllocCallsCaches = 64

// Summary is one line naming the failed checks and their remediation.
func (p PreflightResult) Summary() string {
	var parts []string
	for _, c := range p.Checks {
		if c.Failed() {
			parts = append(parts, c.Name+": "+c.Remediation)
		}
	}
	if len(parts) == 0 {
		return "ready"
	}
	return strings.Join(parts, "; ")
}

// Preflight probes the target and judges whether a soak can see leaks there.
// The error is non-nil only when the target could not be checked at all.
func Preflight(ctx context.Context, tgt remote.Target) (PreflightResult, error) {
	facts, err := prepareTarget(ctx, tgt)
	if err != nil {
		return PreflightResult{}, err
	}
	return evaluateFacts(facts), nil
}

// RestoreTarget undoes what the preflight changed on the target: it turns
// kmemleak's automatic scan back on and unmounts debugfs if the preflight
// mounted it. It returns one note per action, saying what was done or why
// it could not be; a target left as it was gives none.
func RestoreTarget(ctx context.Context, tgt remote.Target, pf PreflightResult) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	var notes []string
	// Each script takes the target path it acts on as $2, the argument
	// RunOptions.PathArgs marks.
	do := func(what string, argv ...string) {
		res, err := tgt.Run(ctx, argv, remote.RunOptions{MaxOutputBytes: 1 << 20, PathArgs: []int{len(argv) - 1}})
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("could not %s on %s: %v", what, tgt.Name(), err))
		case res.ExitStatus != 0:
			notes = append(notes, fmt.Sprintf("could not %s on %s: %s", what, tgt.Name(), strings.TrimSpace(string(res.Stderr)+string(res.Stdout))))
		default:
			notes = append(notes, what)
		}
	}
	if pf.StoppedAutoScan {
		do("turned kmemleak's automatic scan back on (scan=on)", "sh", "-c", scanScript, "sh", "scan=on", kmemleakPath)
	}
	if pf.CountThreshold != "" {
		do("put page_owner's count_threshold back to "+pf.CountThreshold, "sh", "-c", `echo "$1" > "$2"`, "sh", pf.CountThreshold, pageowner.CountThresholdPath)
	}
	if pf.MountedDebugfs {
		do("unmounted debugfs from "+debugfsPath+" (the preflight had mounted it)", "sh", "-c", `umount "$1" 2>&1`, "sh", debugfsPath)
	}
	return notes
}

func (s *soak) preflight(ctx context.Context) (PreflightResult, error) {
	if s.cfg.Preflight != nil {
		return *s.cfg.Preflight, nil
	}
	return Preflight(ctx, s.tgt)
}

// Paths the preflight and the kmemleak steps read.
const (
	kmemleakPath   = "/sys/kernel/debug/kmemleak"
	debugfsPath    = "/sys/kernel/debug"
	procConfigPath = "/proc/config.gz"
	cmdlinePath    = "/proc/cmdline"
	bootIDPath     = "/proc/sys/kernel/random/boot_id"
	uptimePath     = "/proc/uptime"
	slabinfoPath   = "/proc/slabinfo"
	slabFolder     = "/sys/kernel/slab"
	storeUserGlob  = "/sys/kernel/slab/*/store_user"
	osreleasePath  = "/proc/sys/kernel/osrelease"
	mountsPath     = "/proc/mounts"
)

// targetFacts is the raw material of the preflight, read from the target.
type targetFacts struct {
	Kernel       string
	Config       []byte
	ConfigSource string
	ConfigError  string
	Cmdline      string
	DebugfsMount bool
	DebugfsNote  string
	// MountedDebugfs is true when the probe mounted debugfs itself.
	MountedDebugfs bool
	KmemleakFile   bool
	ScanOffError   string // "" when the write succeeded
	// The page-level sources: see kconfig.Facts. CountThreshold is
	// page_owner's count_threshold before the preflight raised it ("" when
	// it did not).
	AllocinfoReadable bool
	MemProfiling      string
	// OwnerCaches are the caches tracking allocation owners (store_user=1)
	// on a kernel before 5.14, whose sysfs alloc_calls each sample reads.
	OwnerCaches     []string
	PageOwnerStacks bool
	CountThreshold  string
	SlabinfoError   string // "" when readable
	StoreUser       int    // caches with store_user = 1
	SlabCaches      int    // caches in /proc/slabinfo
	MergedCaches    int    // -1 when unknown
	Notes           []string
}

// probeTimeout bounds each preflight command.
const probeTimeout = 2 * time.Minute

// prepareTarget reads the preflight's facts and prepares the target for a
// soak: it mounts debugfs when it is not mounted and turns kmemleak's
// automatic scan off (RestoreTarget undoes both). It writes to the target.
func prepareTarget(ctx context.Context, tgt remote.Target) (targetFacts, error) {
	var f targetFacts
	// Every script takes the target path it acts on as its last argument,
	// which RunOptions.PathArgs marks.
	run := func(argv ...string) (remote.Result, error) {
		rctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		return tgt.Run(rctx, argv, remote.RunOptions{MaxOutputBytes: 1 << 20, PathArgs: []int{len(argv) - 1}})
	}
	snap, err := readProbeFiles(ctx, tgt, []string{osreleasePath, procConfigPath, cmdlinePath, slabinfoPath, mountsPath, storeUserGlob})
	if err != nil {
		return f, err
	}
	f.Kernel = strings.TrimSpace(string(snap.Files[osreleasePath]))
	if f.Kernel == "" {
		return f, fmt.Errorf("read %s on %s: %s; is this a Linux target?", osreleasePath, tgt.Name(), snap.Errors[osreleasePath])
	}
	f.Cmdline = strings.TrimSpace(string(snap.Files[cmdlinePath]))
	if gz, ok := snap.Files[procConfigPath]; ok {
		cfg, err := gunzipCapped(gz, 16<<20)
		if err != nil {
			f.ConfigError = fmt.Sprintf("%s: %v", procConfigPath, err)
		} else {
			f.Config, f.ConfigSource = cfg, procConfigPath
		}
	}
	bootCfg := "/boot/config-" + f.Kernel
	if f.Config == nil && !strings.ContainsAny(f.Kernel, "/*?[ \n") {
		if bs, err := readProbeFiles(ctx, tgt, []string{bootCfg}); err == nil {
			if b, ok := bs.Files[bootCfg]; ok {
				f.Config, f.ConfigSource = b, bootCfg
			}
		}
	}
	if f.Config == nil && f.ConfigError == "" {
		f.ConfigError = fmt.Sprintf("neither %s nor %s is readable", procConfigPath, bootCfg)
	}
	if b, ok := snap.Files[slabinfoPath]; ok {
		f.SlabCaches = max(strings.Count(string(b), "\n")-2, 0)
	}
	if e, bad := snap.Errors[slabinfoPath]; bad {
		f.SlabinfoError = e
	} else if _, ok := snap.Files[slabinfoPath]; !ok {
		f.SlabinfoError = "not read"
	}
	for p, b := range snap.Files {
		if strings.HasPrefix(p, "/sys/kernel/slab/") && strings.HasSuffix(p, "/store_user") && strings.TrimSpace(string(b)) == "1" {
			f.StoreUser++
			if name := path.Base(path.Dir(p)); checks.ValidCacheName(name) {
				f.OwnerCaches = append(f.OwnerCaches, name)
			}
		}
	}
	sort.Strings(f.OwnerCaches)
	// Kernels before 5.14 list a cache's allocation sites in sysfs
	// (alloc_calls, one page); from 5.14 debugfs alloc_traces replaces it.
	if kconfig.KernelAtLeast(f.Kernel, 5, 14) || len(f.OwnerCaches) > maxAllocCallsCaches {
		f.OwnerCaches = nil
	}
	f.DebugfsMount = kconfig.DebugfsMounted(snap.Files[mountsPath], debugfsPath)

	// debugfs: kmemleak and alloc_traces live there; mount it when it is not.
	if !f.DebugfsMount {
		res, err := run("sh", "-c", `mount -t debugfs debugfs "$1" 2>&1`, "sh", debugfsPath)
		if err != nil {
			return f, fmt.Errorf("mount debugfs on %s: %w", tgt.Name(), err)
		}
		if res.ExitStatus == 0 {
			f.DebugfsMount, f.MountedDebugfs = true, true
			f.Notes = append(f.Notes, "mounted debugfs on "+debugfsPath+" (it was not mounted)")
		} else {
			f.DebugfsNote = strings.TrimSpace(string(res.Stdout) + string(res.Stderr))
		}
	}

	f.MergedCaches = -1
	res, err := run("sh", "-c", `find "$1" -maxdepth 1 -type l 2>/dev/null | wc -l`, "sh", slabFolder)
	if err == nil && res.ExitStatus == 0 {
		var n int
		if _, serr := fmt.Sscan(string(res.Stdout), &n); serr == nil {
			f.MergedCaches = n
		}
	}

	// kmemleak: the file exists when built in (>= 4.19); a write shows whether it
	// is enabled (EPERM since 5.3, EBUSY before). scan=off also stops the
	// auto-scan thread so the harness owns every scan.
	res, err = run("sh", "-c", `[ -e "$1" ] || exit 5; echo scan=off > "$1"`, "sh", kmemleakPath)
	if err != nil {
		return f, fmt.Errorf("write scan=off to %s on %s: %w", kmemleakPath, tgt.Name(), err)
	}
	f.KmemleakFile = res.ExitStatus != 5
	if res.ExitStatus != 0 && res.ExitStatus != 5 {
		f.ScanOffError = strings.TrimSpace(string(res.Stderr))
		if f.ScanOffError == "" {
			f.ScanOffError = fmt.Sprintf("exit status %d", res.ExitStatus)
		}
	}
	if err := preparePageLevel(ctx, tgt, &f, run); err != nil {
		return f, err
	}
	return f, nil
}

// preparePageLevel reads whether the page-level sources can be sampled
// (/proc/allocinfo and its sysctl; page_owner_stacks in debugfs) and raises
// page_owner's count_threshold to pageowner.DefaultCountThreshold, so that
// show_stacks lists the few stacks holding real memory rather than every
// stack the kernel ever saw (RestoreTarget puts the old value back).
func preparePageLevel(ctx context.Context, tgt remote.Target, f *targetFacts, run func(argv ...string) (remote.Result, error)) error {
	snap, err := readProbeFiles(ctx, tgt, []string{allocinfo.Path, allocinfo.SysctlPath, pageowner.CountThresholdPath})
	if err != nil {
		return err
	}
	_, f.AllocinfoReadable = snap.Files[allocinfo.Path]
	f.MemProfiling = strings.TrimSpace(string(snap.Files[allocinfo.SysctlPath]))
	old, ok := snap.Files[pageowner.CountThresholdPath]
	f.PageOwnerStacks = ok
	if !ok {
		return nil
	}
	prev := strings.TrimSpace(string(old))
	if n, err := strconv.Atoi(prev); err == nil && n >= pageowner.DefaultCountThreshold {
		return nil
	}
	want := strconv.Itoa(pageowner.DefaultCountThreshold)
	res, err := run("sh", "-c", `echo "$1" > "$2"`, "sh", want, pageowner.CountThresholdPath)
	if err != nil {
		return fmt.Errorf("write %s on %s: %w", pageowner.CountThresholdPath, tgt.Name(), err)
	}
	if res.ExitStatus == 0 {
		f.CountThreshold = prev
		f.Notes = append(f.Notes, fmt.Sprintf("set %s to %s (was %s) so show_stacks lists only stacks holding at least %s pages", pageowner.CountThresholdPath, want, prev, want))
	}
	return nil
}

func readProbeFiles(ctx context.Context, tgt remote.Target, paths []string) (*remote.Snapshot, error) {
	rctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	snap, err := tgt.ReadFiles(rctx, paths, remote.ReadOptions{MaxFileBytes: 16 << 20})
	if err != nil {
		return nil, fmt.Errorf("read kernel facts on %s: %w", tgt.Name(), err)
	}
	return snap, nil
}

func gunzipCapped(b []byte, capBytes int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, capBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > capBytes {
		return nil, fmt.Errorf("expands beyond %d bytes", capBytes)
	}
	return out, nil
}

func digest(b []byte) string {
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// RecordPreflightFailure records a soak that ended in its preflight, as
// every other run is recorded: a run folder with run.json and report.json
// (verdict error, the preflight table, the evidence folder named), a
// results store row when cfg.Store records runs (an error run is never a
// baseline), and the target restored to how the preflight found it. pf is
// the preflight that found the target not ready; checkErr, when non-nil,
// is why the preflight could not check the target at all (pf then holds
// what it saw, if anything). The error is non-nil only when no run folder
// could be made.
func RecordPreflightFailure(ctx context.Context, cfg Config, pf PreflightResult, checkErr error) (*Run, error) {
	if checkErr == nil && pf.Ready {
		return nil, errors.New("record a preflight failure: the target is ready; run the soak instead")
	}
	if checkErr != nil {
		pf.Ready = false
		pf.Checks = append(pf.Checks, report.Check{
			Name:        "preflight could check the target",
			Status:      verdict.CheckFail,
			Seen:        checkErr.Error(),
			Remediation: fmt.Sprintf("it failed with %q; make the target reachable and its /proc readable over the connection, then run the gate again", checkErr.Error()),
		})
	}
	cfg.Preflight = &pf
	return Soak(ctx, cfg)
}
