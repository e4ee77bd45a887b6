package remote

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Spec is a target as the user named it with --target, parsed but not yet
// resolved (ssh_config is applied by Dial, not here).
type Spec struct {
	// Transport is "local" or "ssh".
	Transport string
	// User is the login name the spec gives; "" when it gives none.
	User string
	// Host is the host name, address (IPv6 without brackets) or ssh_config
	// alias; "" for a local target.
	Host string
	// Port is the port the spec gives; 0 when it gives none.
	Port int
	// Root is the folder a "local:/dir" spec serves as the target's
	// filesystem; "" otherwise.
	Root string
}

// Spellings of a target spec, for messages.
const specHelp = "write local, local:/folder, ssh://user@host:port or an ssh_config alias [user@]alias[:port]"

// ParseSpec parses a target spec: "local", "local:/folder" (a folder
// standing in for a target), "ssh://[user@]host[:port]", or an ssh_config
// alias "[user@]alias[:port]" (hosts and IPv6 addresses in brackets work as
// aliases too).
func ParseSpec(spec string) (Spec, error) {
	switch {
	case spec == "":
		return Spec{}, errors.New("no target given (" + specHelp + ")")
	case spec == "local" || spec == "local:":
		return Spec{Transport: "local"}, nil
	case strings.HasPrefix(spec, "local:"):
		root := strings.TrimPrefix(spec, "local:")
		if !strings.HasPrefix(root, "/") {
			return Spec{}, fmt.Errorf("parse target %q: a local target serves an absolute folder (write local:/folder)", spec)
		}
		return Spec{Transport: "local", Root: root}, nil
	}
	s := Spec{Transport: "ssh"}
	var port string
	if strings.HasPrefix(spec, "ssh://") {
		u, err := url.Parse(spec)
		if err != nil {
			return Spec{}, fmt.Errorf("parse target %q: %w (write ssh://user@host:port)", spec, err)
		}
		if u.Path != "" && u.Path != "/" {
			return Spec{}, fmt.Errorf("parse target %q: unexpected path %q (write ssh://user@host:port)", spec, u.Path)
		}
		s.User, s.Host, port = u.User.Username(), u.Hostname(), u.Port()
	} else {
		rest := spec
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			s.User, rest = rest[:i], rest[i+1:]
		}
		s.Host = rest
		if host, p, err := net.SplitHostPort(rest); err == nil {
			s.Host, port = host, p
		} else if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
			s.Host = rest[1 : len(rest)-1]
		}
	}
	if s.Host == "" || strings.ContainsAny(s.Host, " \t\n/") {
		return Spec{}, fmt.Errorf("parse target %q: no usable host (%s)", spec, specHelp)
	}
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			return Spec{}, fmt.Errorf("parse target %q: bad port %q (give a number from 1 to 65535)", spec, port)
		}
		s.Port = p
	}
	return s, nil
}
