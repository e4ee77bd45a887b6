package remote

import (
	"context"
	"errors"
	"fmt"
)

// The errors here are the transport-neutral vocabulary every transport
// reports in; each transport puts its own remedy into Hint. A transport's
// own failures that no other transport has (SSH host keys: HostKeyError)
// live beside it.

// LinkError reports that the connection to the target failed or dropped:
// the dial, the handshake, or a command whose stream closed without an exit
// status. Retrying (which reconnects) can help.
type LinkError struct {
	// Op is what was being done: "dial", "handshake", "run", "upload",
	// "download", "keepalive", or "stall" for an operation that outlived its
	// caller's timeout.
	Op string
	// Target is the target's name.
	Target string
	// Err is the underlying cause.
	Err error
	// Hint says what to check, in the transport's words; "" gives a generic
	// hint for Op.
	Hint string
}

// Error says what was lost and what to check.
func (e *LinkError) Error() string {
	hint := e.Hint
	switch e.Op {
	case "dial":
		if hint == "" {
			hint = "check the address, and that the target is up and its service running"
		}
		return fmt.Sprintf("connect to %s: %v (%s)", e.Target, e.Err, hint)
	case "handshake":
		if hint == "" {
			hint = "the target answered but the session did not start; check that the right service listens there and is not overloaded"
		}
		return fmt.Sprintf("open a session with %s: %v (%s)", e.Target, e.Err, hint)
	case "stall":
		if hint == "" {
			hint = "the link stalled or the target is overloaded; retrying reconnects"
		}
		return fmt.Sprintf("%s stopped answering: %v (%s)", e.Target, e.Err, hint)
	}
	if hint == "" {
		hint = "the target may have rebooted or the network dropped; retrying reconnects"
	}
	return fmt.Sprintf("%s on %s: link lost: %v (%s)", e.Op, e.Target, e.Err, hint)
}

// Unwrap returns the cause.
func (e *LinkError) Unwrap() error { return e.Err }

// AuthError reports that the target rejected every credential offered.
// Retrying with the same credentials does not help.
type AuthError struct {
	// User and Target say who tried where.
	User, Target string
	// Methods lists the methods that were offered.
	Methods []string
	// Err is the underlying cause.
	Err error
	// Hint says which credentials to check, in the transport's words; ""
	// gives a generic hint.
	Hint string
}

// Error says who was refused where, and which credentials to check.
func (e *AuthError) Error() string {
	hint := e.Hint
	if hint == "" {
		hint = "check the credentials given for the target"
	}
	return fmt.Sprintf("authenticate as %s on %s (tried %v): %v (%s)", e.User, e.Target, e.Methods, e.Err, hint)
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }

// IsRetryable reports whether retrying the failed operation (which
// reconnects when needed) can help: true only for a lost link (*LinkError)
// that the caller did not cancel. Refused credentials (*AuthError), a host
// key that cannot be trusted (*HostKeyError), a cancelled context and every
// other error are not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var le *LinkError
	return errors.As(err, &le)
}
