package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
)

// Dial opens a target named by spec (see ParseSpec): "local", "local:/folder",
// "ssh://user@host:port", or an ssh_config alias ("[user@]alias[:port]") whose HostName, User, Port,
// IdentityFile, ProxyJump, UserKnownHostsFile, ConnectTimeout and
// ServerAliveInterval are honoured. Options override the config file.
func Dial(ctx context.Context, spec string, opts Options) (Target, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if sp.Transport == "local" {
		return NewLocal(opts.Root + sp.Root), nil
	}
	hops, err := resolveHops(spec, opts)
	if err != nil {
		return nil, err
	}
	s := newSSH(spec, hops, opts)
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return NewTarget(s, opts.Root), nil
}

// HostKeyPolicy says what to do with a host key that known_hosts does not vouch for.
type HostKeyPolicy string

// Host-key policies. Only Verify is safe; the others are explicit opt-ins.
const (
	// HostKeyVerify refuses unknown and changed keys (the default).
	HostKeyVerify HostKeyPolicy = "verify"
	// HostKeyTOFU trusts an unknown key once and appends it to known_hosts; a changed key is still refused.
	HostKeyTOFU HostKeyPolicy = "tofu"
	// HostKeyInsecure accepts any key. For throwaway rigs only.
	HostKeyInsecure HostKeyPolicy = "insecure"
)

// Options tune how an SSH target is reached. The zero value reads
// ~/.ssh/config, verifies host keys against ~/.ssh/known_hosts and offers
// the agent and the default identity files.
type Options struct {
	// User overrides the login name when the spec names none.
	User string
	// IdentityFiles are private keys to offer, before those from ssh_config.
	IdentityFiles []string
	// KnownHostsFiles replace UserKnownHostsFile and ~/.ssh/known_hosts. TOFU appends to the first.
	KnownHostsFiles []string
	// HostKeyPolicy is verify (default), tofu or insecure.
	HostKeyPolicy HostKeyPolicy
	// Jump is a ProxyJump chain ("bastion,user@host2:2222"); it overrides ssh_config; "none" disables it.
	Jump string
	// PasswordEnv names the environment variable holding the password (password and keyboard-interactive auth).
	PasswordEnv string
	// PassphraseEnv names the environment variable holding the passphrase of encrypted identity files.
	PassphraseEnv string
	// AgentSocket is the ssh-agent socket; "" means $SSH_AUTH_SOCK.
	AgentSocket string
	// NoAgent disables ssh-agent.
	NoAgent bool
	// ConnectTimeout bounds dial plus handshake of each hop; 0 means ssh_config's or 15s.
	ConnectTimeout time.Duration
	// KeepaliveInterval is the ServerAliveInterval; 0 means ssh_config's or 15s; negative disables keepalives.
	KeepaliveInterval time.Duration
	// KeepaliveCountMax is how many unanswered keepalives drop the link; 0 means ssh_config's or 3.
	KeepaliveCountMax int
	// SSHConfigFile is the ssh_config to read; "" means ~/.ssh/config then /etc/ssh/ssh_config; "none" reads none.
	SSHConfigFile string
	// Root says the target serves this folder as its filesystem (remotetest servers, test daemons):
	// the paths ReadFiles reads, the arguments RunOptions.PathArgs marks, and the paths of Upload and
	// Download are mapped under it (see NewTarget). Empty for a real device.
	Root string
	// DisableSFTP forces the exec-based file transfer.
	DisableSFTP bool
	// ReconnectAttempts is how many connection attempts one call makes; 0 means 3.
	ReconnectAttempts int
	// ReconnectBackoff is the wait before the second attempt, doubling after; 0 means 500ms.
	ReconnectBackoff time.Duration
	// Getenv reads environment variables (secrets); nil means os.Getenv.
	Getenv func(string) string
	// DialContext opens the first hop's TCP connection; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults for Options fields left zero.
const (
	defaultConnectTimeout    = 15 * time.Second
	defaultKeepaliveInterval = 15 * time.Second
	defaultKeepaliveCountMax = 3
	defaultReconnectAttempts = 3
	defaultReconnectBackoff  = 500 * time.Millisecond
)

func (o *Options) getenv(name string) string {
	if o.Getenv != nil {
		return o.Getenv(name)
	}
	return os.Getenv(name)
}

// hop is one SSH server on the way to the target, fully resolved.
type hop struct {
	alias          string // what the user named
	host           string // HostName
	port           int
	user           string
	identities     []string
	optionalIDs    bool // identities are the defaults: missing ones are skipped
	knownHosts     []string
	connectTimeout time.Duration
	keepalive      time.Duration
	keepaliveMax   int
}

func (h hop) addr() string { return net.JoinHostPort(h.host, strconv.Itoa(h.port)) }

// resolveHops resolves spec and its ProxyJump chain into hops, the target last.
func resolveHops(spec string, opts Options) ([]hop, error) {
	cfg, err := loadSSHConfig(opts.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	final, err := resolveHop(cfg, spec, opts, true)
	if err != nil {
		return nil, err
	}
	jump := opts.Jump
	if jump == "" {
		jump = cfg.get(final.alias, "ProxyJump")
	}
	var hops []hop
	if jump != "" && !strings.EqualFold(jump, "none") {
		for _, j := range strings.Split(jump, ",") {
			h, err := resolveHop(cfg, strings.TrimSpace(j), opts, false)
			if err != nil {
				return nil, fmt.Errorf("resolve jump host %q: %w", j, err)
			}
			hops = append(hops, h)
		}
	}
	return append(hops, final), nil
}

// resolveHop parses one "[ssh://][user@]host[:port]" and applies ssh_config.
func resolveHop(cfg *sshConfig, spec string, opts Options, isTarget bool) (hop, error) {
	var h hop
	sp, err := ParseSpec(spec)
	if err != nil {
		return h, err
	}
	if sp.Transport != "ssh" {
		return h, fmt.Errorf("parse target %q: a local target cannot be reached over SSH (name a host)", spec)
	}
	h.user, h.alias = sp.User, sp.Host
	h.host = h.alias
	if v := cfg.get(h.alias, "HostName"); v != "" {
		h.host = strings.ReplaceAll(v, "%h", h.alias)
	}
	if h.user == "" && isTarget {
		h.user = opts.User
	}
	if h.user == "" {
		h.user = cfg.get(h.alias, "User")
	}
	if h.user == "" {
		u, err := user.Current()
		if err != nil {
			return h, fmt.Errorf("resolve target %q: no user given and the current user is unknown: %w (write user@host)", spec, err)
		}
		h.user = u.Username
	}
	h.port = sp.Port
	if portStr := cfg.get(h.alias, "Port"); h.port == 0 && portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p <= 0 || p > 65535 {
			return h, fmt.Errorf("resolve target %q: bad port %q in ssh_config", spec, portStr)
		}
		h.port = p
	}
	if h.port == 0 {
		h.port = 22
	}
	for _, f := range opts.IdentityFiles {
		h.identities = append(h.identities, expandPath(f, h))
	}
	for _, f := range cfg.getAll(h.alias, "IdentityFile") {
		h.identities = append(h.identities, expandPath(f, h))
	}
	if len(h.identities) == 0 {
		h.optionalIDs = true
		for _, f := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			h.identities = append(h.identities, expandPath("~/.ssh/"+f, h))
		}
	}
	for _, f := range opts.KnownHostsFiles {
		h.knownHosts = append(h.knownHosts, expandPath(f, h))
	}
	if len(h.knownHosts) == 0 {
		for _, f := range strings.Fields(cfg.get(h.alias, "UserKnownHostsFile")) {
			h.knownHosts = append(h.knownHosts, expandPath(f, h))
		}
	}
	if len(h.knownHosts) == 0 {
		h.knownHosts = []string{expandPath("~/.ssh/known_hosts", h)}
	}
	if h.connectTimeout, err = durationOption(opts.ConnectTimeout, cfg.get(h.alias, "ConnectTimeout"), defaultConnectTimeout); err != nil {
		return h, fmt.Errorf("resolve target %q: ConnectTimeout: %w", spec, err)
	}
	if h.keepalive, err = durationOption(opts.KeepaliveInterval, cfg.get(h.alias, "ServerAliveInterval"), defaultKeepaliveInterval); err != nil {
		return h, fmt.Errorf("resolve target %q: ServerAliveInterval: %w", spec, err)
	}
	h.keepaliveMax = opts.KeepaliveCountMax
	if h.keepaliveMax <= 0 {
		h.keepaliveMax = defaultKeepaliveCountMax
		if v := cfg.get(h.alias, "ServerAliveCountMax"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return h, fmt.Errorf("resolve target %q: bad ServerAliveCountMax %q", spec, v)
			}
			h.keepaliveMax = n
		}
	}
	return h, nil
}

// durationOption picks the option, else the config's seconds, else def.
// A negative option means "off" and is kept.
func durationOption(opt time.Duration, cfgSeconds string, def time.Duration) (time.Duration, error) {
	if opt != 0 {
		return opt, nil
	}
	if cfgSeconds == "" {
		return def, nil
	}
	n, err := strconv.Atoi(cfgSeconds)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad number of seconds %q", cfgSeconds)
	}
	if n == 0 {
		return def, nil
	}
	return time.Duration(n) * time.Second, nil
}

// expandPath expands ~ and the %d %h %p %r %u tokens OpenSSH allows in file names.
func expandPath(p string, h hop) string {
	home, _ := os.UserHomeDir()
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = home + p[1:]
	}
	if !strings.Contains(p, "%") {
		return p
	}
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	r := strings.NewReplacer("%%", "%", "%d", home, "%h", h.host, "%p", strconv.Itoa(h.port), "%r", h.user, "%u", local)
	return r.Replace(p)
}

// sshConfig is the ssh_config files in the order they are consulted.
type sshConfig struct {
	files []*sshconfig.Config
}

// loadSSHConfig reads file, or the user's and system's config for "".
func loadSSHConfig(file string) (*sshConfig, error) {
	c := &sshConfig{}
	var names []string
	switch file {
	case "none":
	case "":
		if home, err := os.UserHomeDir(); err == nil {
			names = append(names, filepath.Join(home, ".ssh", "config"))
		}
		names = append(names, "/etc/ssh/ssh_config")
	default:
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("read ssh config: %w (fix --ssh-config)", err)
		}
		names = append(names, file)
	}
	for _, n := range names {
		f, err := os.Open(n)
		if errors.Is(err, os.ErrNotExist) && file == "" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read ssh config: %w", err)
		}
		cfg, err := sshconfig.Decode(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("parse ssh config %s: %w (fix the file or pass --ssh-config none)", n, err)
		}
		c.files = append(c.files, cfg)
	}
	return c, nil
}

// get returns the first value of key for alias across the files.
func (c *sshConfig) get(alias, key string) string {
	for _, f := range c.files {
		if v, err := f.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

// getAll returns every value of key for alias across the files.
func (c *sshConfig) getAll(alias, key string) []string {
	var all []string
	for _, f := range c.files {
		if v, err := f.GetAll(alias, key); err == nil {
			all = append(all, v...)
		}
	}
	return all
}
