package remote

import (
	"context"
	"errors"
	"fmt"
)

// LinkError reports that the connection to the target failed or dropped:
// the dial, the handshake, or a session whose channel closed without an exit
// status. Retrying (which reconnects) can help.
type LinkError struct {
	// Op is what was being done: "dial", "handshake", "run", "read", "upload", "download", "keepalive",
	// or "stall" for an operation that outlived its caller's timeout.
	Op string
	// Target is the target's name.
	Target string
	// Err is the underlying cause.
	Err error
}

// Error says what was lost and what to check.
func (e *LinkError) Error() string {
	switch e.Op {
	case "dial":
		return fmt.Sprintf("connect to %s: %v (check the address and port, and that the target is up with its SSH server running)", e.Target, e.Err)
	case "handshake":
		return fmt.Sprintf("SSH handshake with %s: %v (the port answered but SSH did not complete; check that an SSH server listens there and is not overloaded)", e.Target, e.Err)
	case "stall":
		return fmt.Sprintf("%s stopped answering: %v (the link stalled or the target is overloaded; retrying reconnects)", e.Target, e.Err)
	}
	return fmt.Sprintf("%s on %s: link lost: %v (the target may have rebooted or the network dropped; retrying reconnects)", e.Op, e.Target, e.Err)
}

// Unwrap returns the cause.
func (e *LinkError) Unwrap() error { return e.Err }

// HostKeyError reports a host key that could not be verified: unknown or,
// worse, changed. It is never retryable: a changed key may be an attack.
type HostKeyError struct {
	// Host is the address as written in known_hosts ("[127.0.0.1]:2222").
	Host string
	// Changed is true when known_hosts holds a different key for the host.
	Changed bool
	// Revoked is true when known_hosts marks the presented key @revoked (or rejects it otherwise).
	Revoked bool
	// Fingerprint is the SHA256 fingerprint of the key the server presented.
	Fingerprint string
	// KnownHostsLine is the line that would trust the presented key.
	KnownHostsLine string
	// KnownHostsFile is the file the key was checked against (first one).
	KnownHostsFile string
	// Err is the underlying knownhosts error.
	Err error
	// hint is the remediation sentence.
	hint string
}

// Error names the presented fingerprint and what to do about it.
func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host key for %s CHANGED: the server presented %s, which does not match %s; refused "+
			"(someone may be intercepting the connection, or the target was reinstalled: confirm the new fingerprint "+
			"out of band, then remove the old line with ssh-keygen -R '%s' -f %s)",
			e.Host, e.Fingerprint, e.KnownHostsFile, e.Host, e.KnownHostsFile)
	}
	if e.Revoked {
		return fmt.Sprintf("host key %s for %s is refused by %s: %v (do not connect until the device owner explains it)",
			e.Fingerprint, e.Host, e.KnownHostsFile, e.Err)
	}
	return fmt.Sprintf("host key for %s is unknown (server presented %s); refused. %s", e.Host, e.Fingerprint, e.hint)
}

// Unwrap returns the cause.
func (e *HostKeyError) Unwrap() error { return e.Err }

// AuthError reports that the server rejected every credential offered.
// Retrying with the same credentials does not help.
type AuthError struct {
	// User and Target say who tried where.
	User, Target string
	// Methods lists the methods that were offered.
	Methods []string
	// Err is the underlying handshake error.
	Err error
}

// Error says who was refused where, and which credentials to check.
func (e *AuthError) Error() string {
	return fmt.Sprintf("authenticate as %s on %s (tried %v): %v (check --identity, ssh-agent (SSH_AUTH_SOCK), or --password-env)",
		e.User, e.Target, e.Methods, e.Err)
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }

// IsRetryable reports whether retrying the failed operation (which
// reconnects when needed) can help: true for a lost link, false for host-key
// and auth failures, a cancelled context, or any other error.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return false
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var le *LinkError
	return errors.As(err, &le)
}
