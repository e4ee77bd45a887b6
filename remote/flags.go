package remote

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Flags are the target flags every leakgate subcommand and Ginkgo suite
// takes. Register them on a FlagSet, parse, Validate once, then Dial.
// Secrets never travel in flags: only the names of environment variables do.
type Flags struct {
	// Target is "local", "ssh://user@host:port" or an ssh_config alias.
	Target string
	// Identities are private key files (repeatable --identity).
	Identities []string
	// KnownHosts is the known_hosts file (default: ssh_config's or ~/.ssh/known_hosts).
	KnownHosts string
	// Jump is a ProxyJump chain.
	Jump string
	// HostKeyPolicy is verify, tofu or insecure.
	HostKeyPolicy string
	// PasswordEnv and PassphraseEnv name environment variables holding secrets.
	PasswordEnv, PassphraseEnv string
	// ConnectTimeout bounds dial and handshake of each hop.
	ConnectTimeout time.Duration
	// SSHConfig is the ssh_config file to read ("none" for none).
	SSHConfig string
}

// Register adds the target flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Target, "target", "", "target: local, ssh://user@host:port, or an ~/.ssh/config alias")
	fs.Func("identity", "private key file to offer (repeatable)", func(v string) error {
		f.Identities = append(f.Identities, v)
		return nil
	})
	fs.StringVar(&f.KnownHosts, "known-hosts", "", "known_hosts file (default: UserKnownHostsFile from ssh_config, else ~/.ssh/known_hosts)")
	fs.StringVar(&f.Jump, "jump", "", "ProxyJump chain: [user@]host[:port][,...] (overrides ssh_config; none disables)")
	fs.StringVar(&f.HostKeyPolicy, "host-key-policy", string(HostKeyVerify), "verify (refuse unknown and changed keys), tofu (trust and record an unknown key once), or insecure (accept any key)")
	fs.StringVar(&f.PasswordEnv, "password-env", "", "name of the environment variable holding the SSH password")
	fs.StringVar(&f.PassphraseEnv, "passphrase-env", "", "name of the environment variable holding the identity files' passphrase")
	fs.DurationVar(&f.ConnectTimeout, "connect-timeout", 0, "dial and handshake timeout per hop (default: ssh_config's ConnectTimeout, else 15s)")
	fs.StringVar(&f.SSHConfig, "ssh-config", "", "ssh_config file to read (default ~/.ssh/config and /etc/ssh/ssh_config; none reads none)")
}

// Validate checks the flags once, before any connection.
func (f *Flags) Validate() error {
	var errs []error
	if f.Target == "" {
		errs = append(errs, errors.New("--target is required: local, ssh://user@host:port or an ~/.ssh/config alias"))
	}
	switch HostKeyPolicy(f.HostKeyPolicy) {
	case HostKeyVerify, HostKeyTOFU, HostKeyInsecure, "":
	default:
		errs = append(errs, fmt.Errorf("--host-key-policy %q: want verify, tofu or insecure", f.HostKeyPolicy))
	}
	for name, v := range map[string]string{"--password-env": f.PasswordEnv, "--passphrase-env": f.PassphraseEnv} {
		if v != "" && !isEnvName(v) {
			errs = append(errs, fmt.Errorf("%s takes the NAME of an environment variable, not a secret (got something that is not a variable name)", name))
		}
	}
	if f.ConnectTimeout < 0 {
		errs = append(errs, errors.New("--connect-timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Options turns the flags into Options.
func (f *Flags) Options() Options {
	o := Options{
		IdentityFiles:  append([]string(nil), f.Identities...),
		HostKeyPolicy:  HostKeyPolicy(f.HostKeyPolicy),
		Jump:           f.Jump,
		PasswordEnv:    f.PasswordEnv,
		PassphraseEnv:  f.PassphraseEnv,
		ConnectTimeout: f.ConnectTimeout,
		SSHConfigFile:  f.SSHConfig,
	}
	if f.KnownHosts != "" {
		o.KnownHostsFiles = []string{f.KnownHosts}
	}
	return o
}

// Dial validates the flags and opens the target they name.
func (f *Flags) Dial(ctx context.Context) (Target, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return Dial(ctx, f.Target, f.Options())
}

// isEnvName reports whether s looks like an environment variable name.
func isEnvName(s string) bool {
	if s == "" || strings.IndexByte("0123456789", s[0]) >= 0 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
