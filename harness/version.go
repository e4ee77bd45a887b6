package harness

import "runtime/debug"

// Versions names the software that ran the soak, for run.json.
func Versions() map[string]string {
	v := map[string]string{"leakgate": "devel"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v["go"] = bi.GoVersion
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v["leakgate"] = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v["leakgate.revision"] = s.Value
			}
		}
	}
	return v
}
