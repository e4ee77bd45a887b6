// Package rig builds, boots and stops the leakgate reference target: a Linux
// 6.12 kernel with kmemleak and SLUB debugging in QEMU, running the wlansim
// driver (a wifi RX path that leaks on demand) and its daemon wlansimd. Tests
// use it as a real kernel to soak; the shell scripts in testdata/rig do the
// work, so `make rig-up` and the tests boot the same machine.
package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Paths are the files of one finished rig build, all inside its cache folder.
type Paths struct {
	// Dir is the cache folder of this build (keyed by the hash of its inputs).
	Dir string
	// Kernel is the bzImage; KernelConfig its .config.
	Kernel       string
	KernelConfig string
	// SystemMap is the kernel's System.map.
	SystemMap string
	// Initramfs is the gzip'd cpio the VM boots from.
	Initramfs string
	// Module is wlansim.ko; Daemon is the static wlansimd.
	Module string
	Daemon string
	// IdentityFile is the private SSH key the guest authorizes for root.
	IdentityFile string
	// HostPublicKey holds the guest's host key ("ssh-ed25519 AAAA…").
	HostPublicKey string
}

// ErrNoScripts means the testdata/rig scripts were not found.
var ErrNoScripts = errors.New("rig scripts not found")

// BuildError is a failed build.sh run; Output holds its log tail.
type BuildError struct {
	Err    error
	Output string
}

// Error says what failed and what to do.
func (e *BuildError) Error() string {
	return fmt.Sprintf("build the rig with testdata/rig/build.sh: %v; run scripts/deps.sh (installs the rig packages) and see the log:\n%s", e.Err, e.Output)
}

// Unwrap returns the underlying error.
func (e *BuildError) Unwrap() error { return e.Err }

// Build runs testdata/rig/build.sh, which builds the kernel, module, daemon
// and initramfs into a cache folder outside the work tree (or reuses it when
// the inputs are unchanged), and returns the paths of the result.
func Build(ctx context.Context) (Paths, error) {
	dir, err := ScriptsDir()
	if err != nil {
		return Paths{}, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "build.sh"))
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return Paths{}, &BuildError{Err: err, Output: stderr.String()}
	}
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return PathsIn(out)
}

// PathsIn returns the Paths of the finished build in dir, or an error when dir
// is not one.
func PathsIn(dir string) (Paths, error) {
	if _, err := os.Stat(filepath.Join(dir, ".done")); err != nil {
		return Paths{}, fmt.Errorf("read rig build %s: %w; run testdata/rig/build.sh", dir, err)
	}
	return Paths{
		Dir:           dir,
		Kernel:        filepath.Join(dir, "bzImage"),
		KernelConfig:  filepath.Join(dir, "kernel.config"),
		SystemMap:     filepath.Join(dir, "System.map"),
		Initramfs:     filepath.Join(dir, "initramfs.cpio.gz"),
		Module:        filepath.Join(dir, "wlansim.ko"),
		Daemon:        filepath.Join(dir, "wlansimd"),
		IdentityFile:  filepath.Join(dir, "keys", "id_ed25519"),
		HostPublicKey: filepath.Join(dir, "keys", "host_key.pub"),
	}, nil
}

// ScriptsDir finds testdata/rig: $LEAKGATE_RIG_SCRIPTS when set, else the
// first testdata/rig with a build.sh in the working directory or above it.
func ScriptsDir() (string, error) {
	if d := os.Getenv("LEAKGATE_RIG_SCRIPTS"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "build.sh")); err != nil {
			return "", fmt.Errorf("find build.sh in LEAKGATE_RIG_SCRIPTS=%s: %w", d, err)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find testdata/rig: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "testdata", "rig")
		if _, err := os.Stat(filepath.Join(c, "build.sh")); err == nil {
			return c, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("find testdata/rig above %s: %w; run from the leakgate checkout or set LEAKGATE_RIG_SCRIPTS", wd, ErrNoScripts)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
