package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness/report"
)

// RejudgedDir is the folder inside a run folder that holds re-judgements,
// one sub-folder per policy (named by the policy's digest). What the soak
// recorded (run.json, samples.jsonl, raw/, its own reports) is never
// rewritten.
const RejudgedDir = "rejudged"

// Rejudgement is the verdict Rejudge gives a recorded run, beside what the
// soak recorded.
type Rejudgement struct {
	// Status is pass, fail or error; Error says why a run could not pass
	// (or what ended it), as RunMeta.Error does.
	Status verdict.Run
	Error  string
	// Policy is the policy that judged; PolicyDigest names it and
	// PolicySource says where it came from.
	Policy       Policy
	PolicyDigest string
	PolicySource string
}

// PolicyDigest names a policy: the first 12 hex digits of the sha256 of its
// JSON encoding. Two re-judgements under the same policy share a digest.
func PolicyDigest(p Policy) string {
	b, err := json.Marshal(p)
	if err != nil {
		// A Policy is plain data; Marshal cannot fail on it.
		panic("harness: encode policy: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// RecordedPolicy is the policy the soak recorded, decoded over the defaults
// (old key names migrated) and validated by LoadRun, or the default policy
// when run.json records none. --policy applies over it.
func (r *Run) RecordedPolicy() Policy {
	if r.Meta.Policy != nil {
		return *r.Meta.Policy
	}
	return DefaultPolicy()
}

// recordedPolicy decodes run.json's policy over the defaults. Runs recorded
// before the policy's JSON keys were snake_case carry the Go field names
// (MinSamples, ConfidenceLevel …): those are migrated. A key that is
// neither is refused, naming it, and so is a policy out of range. nil when
// run.json records no policy.
func recordedPolicy(runJSON []byte) (*Policy, error) {
	var doc struct {
		Policy json.RawMessage `json:"policy"`
	}
	if err := json.Unmarshal(runJSON, &doc); err != nil {
		return nil, err
	}
	if len(doc.Policy) == 0 || string(doc.Policy) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc.Policy, &fields); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	migrated := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		name := k
		if tag, ok := policyKeyOf[k]; ok {
			name = tag
		}
		if _, dup := migrated[name]; dup {
			return nil, fmt.Errorf("policy: %w: key %q is given twice (under its old and its new name)", checks.ErrPolicy, name)
		}
		if kindBytesKeys[name] {
			// Per-kind figures were a struct (Slab, Process, Meminfo);
			// they are a map keyed by the kind's name now.
			var err error
			if v, err = lowerKeys(v); err != nil {
				return nil, fmt.Errorf("policy: %w: %s: %v", checks.ErrPolicy, name, err)
			}
		}
		migrated[name] = v
	}
	b, err := json.Marshal(migrated)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p := DefaultPolicy()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy: %w: %v; the run was recorded by a leakgate that judged differently: re-judge it with --policy naming every threshold", checks.ErrPolicy, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %w; re-judge it with --policy setting the field", err)
	}
	return &p, nil
}

// lowerKeys lower-cases the keys of a JSON object (null stays null).
func lowerKeys(v json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		return v, err
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, x := range m {
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return nil, fmt.Errorf("kind %q is given twice", lk)
		}
		out[lk] = x
	}
	return json.Marshal(out)
}

// kindBytesKeys are the JSON keys of checks.Policy's per-kind figures.
var kindBytesKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[checks.Policy]()
	for i := range t.NumField() {
		if f := t.Field(i); f.Type == reflect.TypeFor[checks.KindBytes]() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			m[tag] = true
		}
	}
	return m
}()

// policyKeyOf maps each checks.Policy Go field name (the keys of runs
// recorded before the JSON keys were snake_case) to its JSON key.
var policyKeyOf = func() map[string]string {
	m := map[string]string{}
	t := reflect.TypeFor[checks.Policy]()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag != "" && tag != "-" && tag != f.Name {
			m[f.Name] = tag
		}
	}
	return m
}()

// Rejudge judges the loaded run's samples again under pol (nil: the
// recorded policy, else the default) and sets Rejudged; Meta stays as the
// soak recorded it. Every rule of the live verdict applies: a reboot fails
// the run; a run that never took its baseline keeps its recorded outcome;
// a leak fails it; otherwise an interrupted or broken run, a warm-up that
// leaves nothing to judge, series that all lack samples, and a run judged
// on at most half of its planned samples (gaps, unusable records and
// samples never taken alike) are errors, never a pass. The same folder and
// policy give the same verdict every time.
func (r *Run) Rejudge(pol *Policy) {
	source := "the policy run.json records"
	switch {
	case pol != nil:
		source = "a policy given to analyze"
	case r.Meta.Policy != nil:
		pol = r.Meta.Policy
	default:
		d := DefaultPolicy()
		pol = &d
		source = "the default policy (run.json records none)"
	}
	rj := &Rejudgement{Policy: *pol, PolicyDigest: PolicyDigest(*pol), PolicySource: source}
	r.Rejudged = rj
	r.judgeUnder(*pol, true)
	rj.Status, rj.Error = r.rejudgedOutcome(*pol)
}

// rejudgedOutcome applies the live verdict's rules to the re-judged run.
func (r *Run) rejudgedOutcome(pol Policy) (verdict.Run, string) {
	recorded := r.Meta.Status
	n := len(r.Samples)
	switch recorded {
	case verdict.Running, verdict.Pass, verdict.Fail, verdict.Error:
	default:
		return verdict.Error, fmt.Sprintf("run.json's status %q is none of running, pass, fail, error: the folder was not written by leakgate", recorded)
	}
	switch {
	case r.Meta.Reboot != nil:
		return verdict.Fail, r.Meta.Error
	case n == 0 || r.Meta.BaselineAt.IsZero():
		// Preflight or baseline never completed: the recorded outcome
		// stands, but nothing without a sample passes.
		if recorded == verdict.Fail || recorded == verdict.Error {
			return recorded, r.Meta.Error
		}
		return verdict.Error, "the run has no usable sample to judge"
	case r.Judgement.Failed():
		if r.Interrupted {
			return verdict.Fail, fmt.Sprintf("interrupted after %d samples; %s", n, r.Judgement.Summary())
		}
		return verdict.Fail, ""
	case recorded == verdict.Error:
		return verdict.Error, r.Meta.Error // a broken run stays broken
	case r.Interrupted:
		return verdict.Error, fmt.Sprintf("the soak was interrupted after %d of %d samples and no leak is certain yet; re-run it for the full duration", max(n-1, 0), r.Meta.PlannedSamples)
	}
	if why := r.shortfall(pol); why != "" {
		return verdict.Error, why
	}
	return verdict.Pass, ""
}

// Outcome is the run's verdict and its reason: the re-judgement's when the
// run was re-judged, else what the soak recorded.
func (r *Run) Outcome() (status verdict.Run, reason string) {
	if r.Rejudged != nil {
		return r.Rejudged.Status, r.Rejudged.Error
	}
	return r.Meta.Status, r.Meta.Error
}

// WriteReports writes the run's reports. For a run the soak just recorded
// that is run.json and the reports in the run folder; for a re-judged run
// it is report.json, report.html and series/ in rejudged/<policy digest>/
// (RejudgedReportDir), and nothing the soak recorded is touched.
func (r *Run) WriteReports() error {
	if r.Rejudged == nil {
		return r.writeArtifacts()
	}
	return r.writeRejudgement()
}

// RejudgedReportDir is the folder WriteReports writes a re-judgement to
// ("" before Rejudge).
func (r *Run) RejudgedReportDir() string {
	if r.Rejudged == nil {
		return ""
	}
	return filepath.Join(r.Dir, RejudgedDir, r.Rejudged.PolicyDigest)
}

// writeRejudgement writes the re-judged reports into a fresh folder with a
// random name, created exclusively inside rejudged/, then renames it into
// place, so nothing planted in the run folder (a symlinked rejudged/ or
// series/, a file in the way) is ever written through.
func (r *Run) writeRejudgement() error {
	root, err := os.OpenRoot(r.Dir)
	if err != nil {
		return fmt.Errorf("open run folder %s: %w", r.Dir, err)
	}
	defer root.Close()
	if err := root.Mkdir(RejudgedDir, dirMode); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s in %s: %w", RejudgedDir, r.Dir, err)
	}
	st, err := root.Lstat(RejudgedDir)
	if err != nil {
		return fmt.Errorf("create %s in %s: %w", RejudgedDir, r.Dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s in %s is a %s, not a folder; remove it and re-run analyze", RejudgedDir, r.Dir, st.Mode().Type())
	}
	parent := filepath.Join(r.Dir, RejudgedDir)
	tmp, err := os.MkdirTemp(parent, "."+r.Rejudged.PolicyDigest+".*.tmp")
	if err != nil {
		return fmt.Errorf("create a report folder in %s: %w", parent, diskHint(err))
	}
	if err := report.Write(tmp, r.Report()); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	dst := r.RejudgedReportDir()
	// A previous re-judgement under the same policy (or whatever sits at
	// its name) is replaced; RemoveAll removes a symlink, not its target.
	if err := root.RemoveAll(filepath.Join(RejudgedDir, r.Rejudged.PolicyDigest)); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	return nil
}
