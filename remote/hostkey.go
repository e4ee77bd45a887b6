package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

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

// hostKeyCheck verifies one hop's host key under a policy. It remembers the
// HostKeyError it raised, so the handshake error can be replaced by it.
type hostKeyCheck struct {
	policy HostKeyPolicy
	files  []string
	db     *knownhosts.HostKeyDB // nil when no known_hosts file exists yet

	mu  sync.Mutex
	err error // what the callback refused with, if anything
}

// newHostKeyCheck loads the known_hosts files that exist.
func newHostKeyCheck(policy HostKeyPolicy, files []string) (*hostKeyCheck, error) {
	switch policy {
	case "":
		policy = HostKeyVerify
	case HostKeyVerify, HostKeyTOFU, HostKeyInsecure:
	default:
		return nil, fmt.Errorf("host key policy %q: want verify, tofu or insecure", policy)
	}
	c := &hostKeyCheck{policy: policy, files: files}
	if policy == HostKeyInsecure {
		return c, nil
	}
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) > 0 {
		db, err := knownhosts.NewDB(existing...)
		if err != nil {
			return nil, fmt.Errorf("read known_hosts: %w (fix or move the file)", err)
		}
		c.db = db
	}
	return c, nil
}

// algorithms lists the host key algorithms known_hosts holds for addr, so
// the server is asked for a key type we can check (no false mismatch).
func (c *hostKeyCheck) algorithms(addr string) []string {
	if c.db != nil {
		if algos := c.db.HostKeyAlgorithms(addr); len(algos) > 0 {
			return algos
		}
	}
	return preferredHostKeyAlgorithms()
}

// preferredHostKeyAlgorithms is OpenSSH's client order, used for hosts not in
// known_hosts. x/crypto's own order puts RSA first, and dropbear 2022.83
// with only an ed25519 host key then aborts the handshake (rsa.c assertion).
func preferredHostKeyAlgorithms() []string {
	return []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
}

// callback is the ssh.HostKeyCallback for this check.
func (c *hostKeyCheck) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	if c.policy == HostKeyInsecure {
		return nil
	}
	var err error
	if c.db != nil {
		err = c.db.HostKeyCallback()(hostname, remote, key)
		if err == nil {
			return nil
		}
	}
	host := knownhosts.Normalize(hostname)
	hk := &HostKeyError{
		Host:           host,
		Fingerprint:    ssh.FingerprintSHA256(key),
		KnownHostsLine: knownhosts.Line([]string{hostname}, key),
		KnownHostsFile: c.files[0],
		Err:            err,
	}
	switch {
	case err == nil || knownhosts.IsHostUnknown(err):
		if c.policy == HostKeyTOFU {
			if werr := appendKnownHost(c.files[0], hk.KnownHostsLine); werr != nil {
				return c.refuse(fmt.Errorf("trust %s on first use: write %s: %w (fix the file's permissions)", host, c.files[0], werr))
			}
			return nil
		}
		if hk.Err == nil {
			hk.Err = errors.New("no known_hosts file exists")
		}
		h, port, splitErr := net.SplitHostPort(hostname)
		if splitErr != nil {
			h, port = hostname, "22"
		}
		hk.hint = fmt.Sprintf("If %s is the right key, add it with:\n  ssh-keyscan -p %s %s >> %s\nor append this line to %s:\n  %s\n(or opt in to --host-key-policy tofu)",
			hk.Fingerprint, port, h, c.files[0], c.files[0], hk.KnownHostsLine)
	case knownhosts.IsHostKeyChanged(err):
		hk.Changed = true
	default:
		// A @revoked key, or an unreadable entry: refuse, never retry.
		hk.Revoked = true
	}
	return c.refuse(hk)
}

// refuse remembers err as the reason the handshake failed and returns it.
func (c *hostKeyCheck) refuse(err error) error {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	return err
}

// raised returns the error the callback refused the key with, if any; it
// replaces the handshake's own wrapping so callers can branch on it.
func (c *hostKeyCheck) raised() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// appendKnownHost appends line to file, creating it (and its folder) private.
func appendKnownHost(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// KnownHostsLine returns the known_hosts line trusting key at host:port.
func KnownHostsLine(host string, port int, key ssh.PublicKey) string {
	return knownhosts.Line([]string{net.JoinHostPort(host, strconv.Itoa(port))}, key)
}
