package remote

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials are the auth methods offered to one hop and what they hold
// open. Secrets stay inside the ssh.AuthMethod closures; nothing logs them.
type credentials struct {
	methods []ssh.AuthMethod
	names   []string
	agent   net.Conn
}

// close releases the agent connection.
func (c *credentials) close() {
	if c.agent != nil {
		c.agent.Close()
	}
}

// newCredentials gathers the agent, identity files and password for h.
func newCredentials(h hop, opts Options) (*credentials, error) {
	c := &credentials{}
	var signers []ssh.Signer
	for _, f := range h.identities {
		s, err := loadIdentity(f, opts)
		if errors.Is(err, os.ErrNotExist) && h.optionalIDs {
			continue
		}
		if err != nil {
			return nil, &AuthError{User: h.user, Target: h.alias, Methods: []string{"publickey"}, Err: err, Hint: hintSSHAuth}
		}
		signers = append(signers, s)
	}
	var agentClient agent.ExtendedAgent
	if !opts.NoAgent {
		sock := opts.AgentSocket
		if sock == "" {
			sock = opts.getenv("SSH_AUTH_SOCK")
		}
		if sock != "" {
			if conn, err := net.Dial("unix", sock); err == nil {
				c.agent = conn
				agentClient = agent.NewClient(conn)
			}
		}
	}
	if len(signers) > 0 || agentClient != nil {
		c.names = append(c.names, "publickey")
		c.methods = append(c.methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			all := signers
			if agentClient != nil {
				if as, err := agentClient.Signers(); err == nil {
					all = append(append([]ssh.Signer{}, as...), signers...)
				}
			}
			return all, nil
		}))
	}
	if opts.PasswordEnv != "" {
		pw := opts.getenv(opts.PasswordEnv)
		if pw == "" {
			c.close()
			return nil, &AuthError{User: h.user, Target: h.alias, Methods: []string{"password"},
				Err: fmt.Errorf("environment variable %s named by --password-env is empty or unset", opts.PasswordEnv), Hint: "export the password in that variable, or drop --password-env"}
		}
		c.names = append(c.names, "password", "keyboard-interactive")
		c.methods = append(c.methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	return c, nil
}

// loadIdentity reads a private key, decrypting it with the passphrase from
// the environment variable opts.PassphraseEnv names.
func loadIdentity(file string, opts Options) (ssh.Signer, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if opts.PassphraseEnv == "" {
			return nil, fmt.Errorf("identity %s is encrypted: name the environment variable holding its passphrase with --passphrase-env, or load it into ssh-agent", file)
		}
		pass := opts.getenv(opts.PassphraseEnv)
		if pass == "" {
			return nil, fmt.Errorf("identity %s is encrypted and environment variable %s is empty or unset", file, opts.PassphraseEnv)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(pass))
		if err != nil {
			return nil, fmt.Errorf("decrypt identity %s with the passphrase from %s: %w", file, opts.PassphraseEnv, err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("parse identity %s: %w", file, err)
	}
	return s, nil
}
