package harness

import (
	"fmt"
	"io"
)

// MaxYAMLFileBytes caps a profile or policy YAML file. Real ones are a few
// KiB; the cap keeps a mistaken path (a log, an image, a disk) from being
// read into memory.
const MaxYAMLFileBytes = 1 << 20

// ReadYAMLFile reads a profile or policy file, what naming its kind in the
// errors ("profile", "policy", "comparison policy"). It reads at most
// MaxYAMLFileBytes and one more byte, to tell a file over the cap, which is
// refused; a FIFO or a device is refused unread. Every caller that reads
// such a file from a path goes through it: one rule, one wording.
func ReadYAMLFile(path, what string) ([]byte, error) {
	f, err := openRegular(nil, path)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxYAMLFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if len(data) > MaxYAMLFileBytes {
		return nil, fmt.Errorf("read %s %s: larger than the 1 MiB (%d bytes) a %s file may hold; check the path, real ones are a few KiB",
			what, path, MaxYAMLFileBytes, what)
	}
	return data, nil
}
