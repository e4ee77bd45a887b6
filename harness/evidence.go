package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/leakgate/leakgate/remote"
)

// EvidenceFolder is where a failed soak's final evidence goes: the run
// folder's evidence/, or a folder of its own under out when no run started.
func EvidenceFolder(run *Run, out, target string) string {
	if run != nil {
		return filepath.Join(run.Dir, EvidenceDir)
	}
	return filepath.Join(out, time.Now().UTC().Format("20060102T150405Z")+"-"+safeName(target)+"-evidence")
}

// CaptureEvidence saves what a failed target shows now: the full kmemleak
// report, /proc/slabinfo, /proc/meminfo and dmesg, into dir (mode 0700).
func CaptureEvidence(ctx context.Context, tgt remote.Target, dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create evidence folder: %w", err)
	}
	snap, err := tgt.ReadFiles(ctx, []string{kmemleakPath, slabinfoPath, "/proc/meminfo"}, remote.ReadOptions{})
	if err != nil {
		return fmt.Errorf("read evidence on %s: %w", tgt.Name(), err)
	}
	for p, data := range snap.Files {
		if err := writeFileSync(filepath.Join(dir, "final-"+safeName(p)+".txt"), data); err != nil {
			return err
		}
	}
	res, err := tgt.Run(ctx, []string{"dmesg"}, remote.RunOptions{MaxOutputBytes: 16 << 20})
	if err != nil {
		return fmt.Errorf("dmesg on %s: %w", tgt.Name(), err)
	}
	return writeFileSync(filepath.Join(dir, "final-dmesg.txt"), res.Stdout)
}
