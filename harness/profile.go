package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// Profile bundles what a kind of rig needs for a soak: timing, the modules
// whose frames are blamed first, workloads, policy overrides and allowlists.
// It is read from YAML (see testdata/profiles/).
type Profile struct {
	Name        string        `yaml:"name" json:"name"`
	Description string        `yaml:"description,omitempty" json:"description,omitempty"`
	Interval    time.Duration `yaml:"interval,omitempty" json:"interval_ns,omitempty"`
	// FastInterval spaces the samples of cheap counters between full ones
	// (Config.FastInterval; 0 leaves it to the flags).
	FastInterval time.Duration `yaml:"fast_interval,omitempty" json:"fast_interval_ns,omitempty"`
	Duration     time.Duration `yaml:"duration,omitempty" json:"duration_ns,omitempty"`
	Warmup       time.Duration `yaml:"warmup,omitempty" json:"warmup_ns,omitempty"`
	OwnModules   []string      `yaml:"own_modules,omitempty" json:"own_modules,omitempty"`
	Workloads    []Workload    `yaml:"workloads,omitempty" json:"workloads,omitempty"`
	// Policy holds overrides of checks.Policy, kept as YAML so the checks
	// package decides what they mean.
	Policy yaml.Node    `yaml:"policy,omitempty" json:"-"`
	Allow  []AllowEntry `yaml:"allow,omitempty" json:"allow,omitempty"`
	// Comparison holds overrides of the A/B comparison's policy
	// (compare.Policy: regression fail|warn, minimum changes, warm-up).
	Comparison yaml.Node `yaml:"comparison,omitempty" json:"-"`
	// ReloadModules are the rig's own driver modules the end-of-run reload
	// probe unloads and loads again (see ReloadModule).
	ReloadModules []ReloadModule `yaml:"reload_modules,omitempty" json:"reload_modules,omitempty"`
}

// ReloadModule says how to unload and load one of the rig's driver modules
// on the target: Unload stops what holds the module and removes it (e.g.
// ["sh", "-c", "killall wlansimd; rmmod wlansim"]), Load puts it back with
// its parameters and restarts its users. Each is an argv run without a
// shell unless it names one. The kernel's report of what the module still
// held at unload is read from Log's output.
type ReloadModule struct {
	Module string   `yaml:"module" json:"module"`
	Unload []string `yaml:"unload" json:"unload"`
	Load   []string `yaml:"load" json:"load"`
	// Log prints the kernel log (default ["dmesg"]).
	Log []string `yaml:"log,omitempty" json:"log,omitempty"`
}

// Workload is one command run during a soak: in the background for the whole
// run, or every Every as a periodic action.
type Workload struct {
	Name string `yaml:"name" json:"name"`
	// Side is where the command runs: SideHost (the CI machine) or SideTarget.
	Side    string            `yaml:"side" json:"side"`
	Command []string          `yaml:"command" json:"command"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Every, when set, makes the workload a periodic action run to completion
	// every Every instead of a background command.
	Every time.Duration `yaml:"every,omitempty" json:"every_ns,omitempty"`
	// OnExit says what a background command's exit means: restart, fail, ignore.
	OnExit string `yaml:"on_exit,omitempty" json:"on_exit,omitempty"`
}

// AllowEntry excuses one known, accepted growth from failing the run.
type AllowEntry struct {
	Kind    string `yaml:"kind" json:"kind"`
	Subject string `yaml:"subject" json:"subject"`
	Reason  string `yaml:"reason" json:"reason"`
}

// Workload sides and exit behaviours.
const (
	SideHost   = "host"
	SideTarget = "target"

	OnExitRestart = "restart"
	OnExitFail    = "fail"
	OnExitIgnore  = "ignore"
)

var workloadName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadProfile reads and validates a profile YAML file. The file is read
// through ReadYAMLFile: at most MaxYAMLFileBytes, a regular file only.
func LoadProfile(path string) (*Profile, error) {
	data, err := ReadYAMLFile(path, "profile")
	if err != nil {
		return nil, err
	}
	p, err := ParseProfile(data)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// ParseProfile decodes and validates profile YAML. Unknown keys are errors so
// a typo never silently drops a workload or a policy override.
func ParseProfile(data []byte) (*Profile, error) {
	if len(data) > MaxYAMLFileBytes {
		return nil, fmt.Errorf("profile is %d bytes, more than the %d allowed; split it", len(data), MaxYAMLFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("profile is empty; give at least a name")
		}
		return nil, fmt.Errorf("decode profile: %w; fix the YAML", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks the profile for values the soak cannot honour.
func (p *Profile) Validate() error {
	if p.Interval < 0 || p.Duration < 0 || p.Warmup < 0 || p.FastInterval < 0 {
		return errors.New("interval, duration and warmup must not be negative")
	}
	seen := map[string]bool{}
	for i := range p.Workloads {
		w := &p.Workloads[i]
		if !workloadName.MatchString(w.Name) {
			return fmt.Errorf("workload %d: name %q must be 1-64 letters, digits, '.', '_' or '-' (it names the log file)", i, w.Name)
		}
		if seen[w.Name] {
			return fmt.Errorf("workload %q: name used twice; give each workload its own name", w.Name)
		}
		seen[w.Name] = true
		if err := w.validate(); err != nil {
			return fmt.Errorf("workload %q: %w", w.Name, err)
		}
	}
	for i, m := range p.ReloadModules {
		if !workloadName.MatchString(m.Module) || len(m.Unload) == 0 || len(m.Load) == 0 {
			return fmt.Errorf("reload_modules %d: module (a module name), unload and load (argv lists) are required", i)
		}
	}
	for i, a := range p.Allow {
		if a.Kind == "" || a.Subject == "" {
			return fmt.Errorf("allow %d: kind and subject are required", i)
		}
		if a.Reason == "" {
			return fmt.Errorf("allow %d (%s %s): give a reason so the report can say why it is excused", i, a.Kind, a.Subject)
		}
	}
	return nil
}

func (w *Workload) validate() error {
	switch w.Side {
	case SideHost, SideTarget:
	case "":
		return errors.New("side is required: host or target")
	default:
		return fmt.Errorf("side %q is not host or target", w.Side)
	}
	if len(w.Command) == 0 || w.Command[0] == "" {
		return errors.New("command is required (an argv list)")
	}
	if w.Every < 0 {
		return errors.New("every must not be negative")
	}
	switch w.OnExit {
	case "":
		w.OnExit = OnExitRestart
		if w.Every > 0 {
			w.OnExit = OnExitIgnore
		}
	case OnExitRestart, OnExitFail, OnExitIgnore:
	default:
		return fmt.Errorf("on_exit %q is not restart, fail or ignore", w.OnExit)
	}
	for k := range w.Env {
		if !envName.MatchString(k) {
			return fmt.Errorf("env name %q is not a valid variable name", k)
		}
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// PolicyYAML returns the profile's policy overrides as YAML, nil when none.
func (p *Profile) PolicyYAML() ([]byte, error) {
	if p.Policy.Kind == 0 {
		return nil, nil
	}
	out, err := yaml.Marshal(&p.Policy)
	if err != nil {
		return nil, fmt.Errorf("encode policy of profile %s: %w", p.Name, err)
	}
	return out, nil
}
