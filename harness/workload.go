package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/leakgate/leakgate/remote"
)

// workloadSet owns every workload goroutine of one soak and waits for them.
type workloadSet struct {
	env    []string
	dir    string
	tgt    remote.Target
	clock  Clock
	logf   func(string, ...any)
	runID  string
	failed chan string

	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[string]bool // periodic actions in flight
	logs    map[string]*os.File
}

// workloadLogCap bounds one command's captured output per run of it.
const workloadLogCap = 1 << 20

// startWorkloads starts the background workloads; periodic ones are run by
// the sample loop through runPeriodic. Cancel ctx, then call stop.
func startWorkloads(ctx context.Context, env []string, ws []Workload, runDir string, tgt remote.Target, clock Clock, logf func(string, ...any)) *workloadSet {
	set := &workloadSet{
		env: env, dir: filepath.Join(runDir, WorkloadsDir), tgt: tgt, clock: clock, logf: logf,
		runID: safeName(filepath.Base(runDir)), failed: make(chan string, len(ws)+1),
		running: map[string]bool{}, logs: map[string]*os.File{},
	}
	for _, w := range ws {
		if w.Every > 0 {
			continue
		}
		set.wg.Add(1)
		go func() {
			defer set.wg.Done()
			set.background(ctx, w)
		}()
	}
	return set
}

// stop waits for every workload goroutine (their context is already
// cancelled; each kills what is left of its target-side command) and closes
// the logs.
func (set *workloadSet) stop() {
	set.wg.Wait()
	set.mu.Lock()
	defer set.mu.Unlock()
	for name, f := range set.logs {
		if err := f.Close(); err != nil {
			set.logf("close workload log %s: %v", name, err)
		}
	}
	set.logs = map[string]*os.File{}
}

// background runs one workload until ctx ends, applying its on_exit rule.
func (set *workloadSet) background(ctx context.Context, w Workload) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		started := set.clock.Now()
		err := set.runOnce(ctx, w)
		if ctx.Err() != nil {
			return
		}
		why := "exited"
		if err != nil {
			why = err.Error()
		}
		set.logLine(w.Name, fmt.Sprintf("workload %s (run %d) ended: %s", w.Name, attempt, why))
		switch w.OnExit {
		case OnExitFail:
			set.failed <- fmt.Sprintf("%s ended (%s) and its profile says on_exit: fail; see workloads/%s.log", w.Name, why, w.Name)
			return
		case OnExitIgnore:
			return
		}
		// restart, backing off when it dies quickly so a broken command does not spin.
		if set.clock.Now().Sub(started) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-set.clock.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// runPeriodic starts one run of a periodic action unless the previous one
// is still going.
func (set *workloadSet) runPeriodic(ctx context.Context, w Workload) {
	set.mu.Lock()
	if set.running[w.Name] {
		set.mu.Unlock()
		set.logLine(w.Name, fmt.Sprintf("periodic %s skipped: the previous run is still going", w.Name))
		return
	}
	set.running[w.Name] = true
	set.mu.Unlock()
	set.wg.Add(1)
	go func() {
		defer set.wg.Done()
		defer func() {
			set.mu.Lock()
			delete(set.running, w.Name)
			set.mu.Unlock()
		}()
		err := set.runOnce(ctx, w)
		if err != nil && ctx.Err() == nil {
			set.logLine(w.Name, fmt.Sprintf("periodic %s failed: %v", w.Name, err))
			if w.OnExit == OnExitFail {
				select {
				case set.failed <- fmt.Sprintf("periodic %s failed (%v) and its profile says on_exit: fail; see workloads/%s.log", w.Name, err, w.Name):
				default:
				}
			}
		}
	}()
}

// errExitStatus is a workload command that ended with a non-zero status.
type errExitStatus int

func (e errExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runOnce runs the workload's command once, to completion or cancellation,
// and appends its output to workloads/<name>.log.
func (set *workloadSet) runOnce(ctx context.Context, w Workload) error {
	set.logLine(w.Name, fmt.Sprintf("start %s on %s: %q", w.Name, w.Side, w.Command))
	if w.Side == SideHost {
		return set.runHost(ctx, w)
	}
	return set.runTarget(ctx, w)
}

func (set *workloadSet) runHost(ctx context.Context, w Workload) error {
	f, err := set.logFile(w.Name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, w.Command[0], w.Command[1:]...)
	cmd.Env = append([]string(nil), set.env...)
	keys := make([]string, 0, len(w.Env))
	for k := range w.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+w.Env[k])
	}
	set.mu.Lock()
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &set.mu, w: f}, &lockedWriter{mu: &set.mu, w: f}
	set.mu.Unlock()
	// Its own process group, so cancelling kills the traffic generator's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return errExitStatus(ee.ExitCode())
	}
	return err
}

// runTarget runs the command on the target under a wrapper that records its
// pid, so it can be killed when the soak ends even if the link does not
// carry the hang-up.
func (set *workloadSet) runTarget(ctx context.Context, w Workload) error {
	argv := w.Command
	if len(w.Env) > 0 {
		keys := make([]string, 0, len(w.Env))
		for k := range w.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pre := []string{"env"}
		for _, k := range keys {
			pre = append(pre, k+"="+w.Env[k])
		}
		argv = append(pre, argv...)
	}
	pidFile := set.pidFile(w.Name)
	wrapped := append([]string{"sh", "-c", `echo $$ > "$1"; shift; exec "$@"`, "sh", pidFile}, argv...)
	res, err := set.tgt.Run(ctx, wrapped, remote.RunOptions{MaxOutputBytes: workloadLogCap, PathArgs: []int{4}})
	set.appendLog(w.Name, res.Stdout)
	set.appendLog(w.Name, res.Stderr)
	if ctx.Err() != nil {
		set.killTarget(w.Name)
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return errExitStatus(res.ExitStatus)
	}
	return nil
}

func (set *workloadSet) pidFile(name string) string {
	return "/tmp/leakgate-" + set.runID + "-" + name + ".pid"
}

// killTarget stops what is left of a target-side workload and its children.
func (set *workloadSet) killTarget(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := `f="$1"; p=$(cat "$f" 2>/dev/null) || exit 0; [ -n "$p" ] || exit 0; pkill -TERM -P "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; rm -f "$f"; exit 0`
	if _, err := set.tgt.Run(ctx, []string{"sh", "-c", script, "sh", set.pidFile(name)}, remote.RunOptions{PathArgs: []int{4}}); err != nil {
		set.logLine(name, fmt.Sprintf("stop %s on the target: %v", name, err))
	}
}

func (set *workloadSet) logFile(name string) (*os.File, error) {
	set.mu.Lock()
	defer set.mu.Unlock()
	if f, ok := set.logs[name]; ok {
		return f, nil
	}
	f, err := os.OpenFile(filepath.Join(set.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open workload log: %w", err)
	}
	set.logs[name] = f
	return f, nil
}

func (set *workloadSet) appendLog(name string, data []byte) {
	if len(data) == 0 {
		return
	}
	f, err := set.logFile(name)
	if err != nil {
		set.logf("%v", err)
		return
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	if _, err := f.Write(data); err != nil {
		set.logf("write workload log %s: %v", name, err)
	}
}

func (set *workloadSet) logLine(name, line string) {
	set.logf("%s", line)
	set.appendLog(name, []byte("# "+set.clock.Now().UTC().Format(time.RFC3339)+" "+line+"\n"))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *os.File
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// schedule hands out periodic actions in time order.
type schedule struct {
	ws    []Workload
	next_ []time.Time
}

func periodicWorkloads(ws []Workload) []Workload {
	var out []Workload
	for _, w := range ws {
		if w.Every > 0 {
			out = append(out, w)
		}
	}
	return out
}

func newSchedule(ws []Workload, start time.Time) *schedule {
	s := &schedule{ws: ws}
	for _, w := range ws {
		s.next_ = append(s.next_, start.Add(w.Every))
	}
	return s
}

// next returns the action due first and when.
func (s *schedule) next() (Workload, time.Time, bool) {
	best := -1
	for i := range s.ws {
		if best < 0 || s.next_[i].Before(s.next_[best]) {
			best = i
		}
	}
	if best < 0 {
		return Workload{}, time.Time{}, false
	}
	return s.ws[best], s.next_[best], true
}

// advance moves w's next run one period on.
func (s *schedule) advance(w Workload) {
	for i := range s.ws {
		if s.ws[i].Name == w.Name {
			s.next_[i] = s.next_[i].Add(s.ws[i].Every)
		}
	}
}
