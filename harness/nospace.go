package harness

import (
	"errors"
	"syscall"
)

// isNoSpace reports whether err is the file system saying it is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
