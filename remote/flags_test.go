package remote

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFlags_ParseIntoOptions(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var f Flags
	f.Register(fs)
	err := fs.Parse([]string{"--target", "ap", "--identity", "/a", "--identity", "/b", "--known-hosts", "/kh", "--jump", "bastion",
		"--host-key-policy", "tofu", "--password-env", "PW", "--passphrase-env", "PP", "--connect-timeout", "3s", "--ssh-config", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	o := f.Options()
	if strings.Join(o.IdentityFiles, ",") != "/a,/b" || o.KnownHostsFiles[0] != "/kh" || o.Jump != "bastion" ||
		o.HostKeyPolicy != HostKeyTOFU || o.PasswordEnv != "PW" || o.PassphraseEnv != "PP" ||
		o.ConnectTimeout != 3*time.Second || o.SSHConfigFile != "none" {
		t.Errorf("options = %+v", o)
	}
}

func TestFlags_DefaultPolicyIsVerify(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var f Flags
	f.Register(fs)
	if err := fs.Parse([]string{"--target", "local"}); err != nil {
		t.Fatal(err)
	}
	if f.Options().HostKeyPolicy != HostKeyVerify {
		t.Errorf("default policy = %q", f.HostKeyPolicy)
	}
}

func TestFlags_ValidateRejectsWhatCannotWork(t *testing.T) {
	cases := map[string]Flags{
		"no target":                      {HostKeyPolicy: "verify"},
		"an unknown policy":              {Target: "x", HostKeyPolicy: "maybe"},
		"a password instead of its name": {Target: "x", PasswordEnv: "hunter2!"},
		"a negative timeout":             {Target: "x", ConnectTimeout: -time.Second},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			err := f.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the secret was echoed")
			}
		})
	}
}

func TestFlags_RegisterDocumentsEveryFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f Flags
	f.Register(fs)
	for _, name := range []string{"target", "identity", "known-hosts", "jump", "host-key-policy", "password-env", "passphrase-env", "connect-timeout", "ssh-config"} {
		if fl := fs.Lookup(name); fl == nil || fl.Usage == "" {
			t.Errorf("--%s missing or undocumented", name)
		}
	}
}
