package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BootOptions choose how the VM boots. The zero value boots the default rig:
// kmemleak on, slub_debug=U, wlansim loaded with leak=0, wlansimd without its
// leak.
type BootOptions struct {
	// Paths is the build to boot; the zero value runs Build first.
	Paths Paths
	// Cmdline holds extra kernel command line words, e.g. "kmemleak=off".
	// kmemleak= and slub_debug=/slab_debug= replace the defaults.
	Cmdline []string
	// ModuleParams are wlansim parameters at load time, e.g. {"leak": "1"}.
	ModuleParams map[string]string
	// DaemonLeakBytes > 0 starts wlansimd with its leak knob on.
	DaemonLeakBytes int
	// Accel is "auto" (default: KVM only when a probe shows it works), "tcg"
	// or "kvm".
	Accel string
	// Memory is the guest memory, e.g. "512M" (the default).
	Memory string
	// BootTimeout bounds the wait for SSH; default 5 minutes.
	BootTimeout time.Duration
	// AllowReboot lets a guest reboot (reboot -f, a panic) restart it in the
	// same QEMU on the same ports, as a real device comes back; by default
	// QEMU runs with -no-reboot and exits instead.
	AllowReboot bool
	// StateDir receives pid, ports, known_hosts, ssh_config and console.log;
	// default a new temporary folder, removed by Stop.
	StateDir string
}

// VM is one running rig. Its methods are safe for concurrent use.
type VM struct {
	paths     Paths
	stateDir  string
	ownsState bool
	scripts   string
	sshPort   int
	udpPort   int
	accel     string
	pid       int

	stopOnce sync.Once
	stopErr  error
}

// BootError is a failed boot; Console holds the tail of the serial console.
type BootError struct {
	Err     error
	Output  string
	Console string
}

// Error says what failed and where to look.
func (e *BootError) Error() string {
	return fmt.Sprintf("boot the rig with testdata/rig/boot.sh: %v\n%s\nconsole tail:\n%s", e.Err, e.Output, e.Console)
}

// Unwrap returns the underlying error.
func (e *BootError) Unwrap() error { return e.Err }

// Boot starts the VM and returns once SSH answers. The caller must Stop it.
func Boot(ctx context.Context, opts BootOptions) (*VM, error) {
	scripts, err := ScriptsDir()
	if err != nil {
		return nil, err
	}
	paths := opts.Paths
	if paths.Dir == "" {
		if paths, err = Build(ctx); err != nil {
			return nil, err
		}
	}
	args, err := bootArgs(paths, opts)
	if err != nil {
		return nil, err
	}
	vm := &VM{paths: paths, scripts: scripts, stateDir: opts.StateDir}
	if vm.stateDir == "" {
		if vm.stateDir, err = os.MkdirTemp("", "leakgate-rig-"); err != nil {
			return nil, fmt.Errorf("create rig state folder: %w", err)
		}
		vm.ownsState = true
	}
	args = append(args, "--state", vm.stateDir)

	cmd := exec.CommandContext(ctx, filepath.Join(scripts, "boot.sh"), args...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// boot.sh waits for SSH; if the context ends first QEMU may already run.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		console := vm.consoleTail()
		_ = vm.Stop()
		return nil, &BootError{Err: err, Output: stderr.String(), Console: console}
	}
	if err := vm.load(); err != nil {
		_ = vm.Stop()
		return nil, err
	}
	return vm, nil
}

func bootArgs(paths Paths, opts BootOptions) ([]string, error) {
	args := []string{"--rig", paths.Dir}
	for _, c := range opts.Cmdline {
		args = append(args, "--append", c)
	}
	for _, k := range slices.Sorted(maps.Keys(opts.ModuleParams)) {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			return nil, fmt.Errorf("boot the rig: module parameter name %q is invalid", k)
		}
		args = append(args, "--param", k+"="+opts.ModuleParams[k])
	}
	if opts.DaemonLeakBytes > 0 {
		args = append(args, "--daemon-leak", strconv.Itoa(opts.DaemonLeakBytes))
	}
	if opts.Accel != "" {
		args = append(args, "--accel", opts.Accel)
	}
	if opts.Memory != "" {
		args = append(args, "--mem", opts.Memory)
	}
	if opts.BootTimeout > 0 {
		args = append(args, "--timeout", strconv.Itoa(int(opts.BootTimeout.Seconds())))
	}
	if opts.AllowReboot {
		args = append(args, "--allow-reboot")
	}
	return args, nil
}

func (vm *VM) load() error {
	var err error
	read := func(name string) string {
		b, e := os.ReadFile(filepath.Join(vm.stateDir, name))
		if e != nil && err == nil {
			err = fmt.Errorf("read rig state %s: %w", name, e)
		}
		return strings.TrimSpace(string(b))
	}
	atoi := func(name string) int {
		s := read(name)
		n, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = fmt.Errorf("read rig state %s: %q is not a number", name, s)
		}
		return n
	}
	vm.sshPort = atoi("ssh_port")
	vm.udpPort = atoi("udp_port")
	vm.pid = atoi("pid")
	vm.accel = read("accel")
	return err
}

// Spec is the target spec the suite takes: ssh://root@127.0.0.1:PORT.
func (vm *VM) Spec() string { return fmt.Sprintf("ssh://root@127.0.0.1:%d", vm.sshPort) }

// SSHPort is the host port forwarded to the guest's SSH server.
func (vm *VM) SSHPort() int { return vm.sshPort }

// UDPPort is the host UDP port forwarded to wlansimd; each datagram sent to
// 127.0.0.1:UDPPort becomes one frame on wlansim's RX path.
func (vm *VM) UDPPort() int { return vm.udpPort }

// KnownHostsFile holds the guest's host key for [127.0.0.1]:SSHPort.
func (vm *VM) KnownHostsFile() string { return filepath.Join(vm.stateDir, "known_hosts") }

// IdentityFile is the private key root logs in with.
func (vm *VM) IdentityFile() string { return vm.paths.IdentityFile }

// SSHConfigFile is an ssh_config snippet defining the host alias leakgate-rig.
func (vm *VM) SSHConfigFile() string { return filepath.Join(vm.stateDir, "ssh_config") }

// StateDir is the folder with pid, ports, known_hosts and console.log.
func (vm *VM) StateDir() string { return vm.stateDir }

// ConsoleLog is the serial console of the guest.
func (vm *VM) ConsoleLog() string { return filepath.Join(vm.stateDir, "console.log") }

// Accel is the accelerator QEMU runs with: "tcg" or "kvm".
func (vm *VM) Accel() string { return vm.accel }

// Paths is the build the VM booted.
func (vm *VM) Paths() Paths { return vm.paths }

// Env is the environment host-side workloads get: RIG_UDP_PORT, RIG_SSH_PORT,
// RIG_STATE_DIR and LEAKGATE_TARGET_HOST.
func (vm *VM) Env() []string {
	return []string{
		"LEAKGATE_TARGET_HOST=127.0.0.1",
		"RIG_UDP_PORT=" + strconv.Itoa(vm.udpPort),
		"RIG_SSH_PORT=" + strconv.Itoa(vm.sshPort),
		"RIG_STATE_DIR=" + vm.stateDir,
	}
}

// RunError is a remote command that exited non-zero or could not run.
type RunError struct {
	Argv   []string
	Err    error
	Stderr string
}

// Error names the command and quotes its stderr.
func (e *RunError) Error() string {
	return fmt.Sprintf("run %q on the rig: %v: %s", e.Argv, e.Err, strings.TrimSpace(e.Stderr))
}

// Unwrap returns the underlying error (an *exec.ExitError for a non-zero exit).
func (e *RunError) Unwrap() error { return e.Err }

// Run executes argv on the guest through /usr/bin/ssh with the rig's key and
// known_hosts (StrictHostKeyChecking=yes) and returns its stdout. Every
// argument is quoted for the remote shell, so none is interpreted by it; to
// use shell syntax, pass it explicitly: Run(ctx, "sh", "-c", "echo scan > f").
func (vm *VM) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run on the rig: empty command")
	}
	args := append(vm.sshArgs(), "--", ShellQuote(argv))
	cmd := exec.CommandContext(ctx, "/usr/bin/ssh", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &RunError{Argv: argv, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

func (vm *VM) sshArgs() []string {
	return []string{
		"-F", "/dev/null",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + vm.KnownHostsFile(),
		"-o", "IdentitiesOnly=yes",
		"-o", "ConnectTimeout=30",
		"-o", "LogLevel=ERROR",
		"-i", vm.IdentityFile(),
		"-p", strconv.Itoa(vm.sshPort),
		"root@127.0.0.1",
	}
}

// ShellQuote joins argv into one POSIX shell command line in which every
// argument is a single-quoted word.
func ShellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// Stop kills QEMU (by the pid boot.sh recorded) and removes the state folder
// when Boot created it. It is safe to call more than once.
func (vm *VM) Stop() error {
	vm.stopOnce.Do(func() {
		cmd := exec.Command(filepath.Join(vm.scripts, "stop.sh"), vm.stateDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			vm.stopErr = fmt.Errorf("stop the rig in %s: %w: %s", vm.stateDir, err, out)
			return
		}
		if vm.ownsState {
			vm.stopErr = os.RemoveAll(vm.stateDir)
		}
	})
	return vm.stopErr
}

func (vm *VM) consoleTail() string {
	b, err := os.ReadFile(vm.ConsoleLog())
	if err != nil {
		return "(no console log: " + err.Error() + ")"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
