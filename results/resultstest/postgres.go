// Package resultstest starts a real PostgreSQL server for tests: Debian's
// postgresql package, a fresh cluster in a temporary folder, listening on a
// free loopback port, run as an unprivileged user, stopped at cleanup.
// Missing server binaries fail the test: a results store that was never
// tested against PostgreSQL is not a tested store.
package resultstest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to wait for the server
)

// Postgres is a running test server.
type Postgres struct {
	// DSN reaches the server's postgres database as the superuser leakgate.
	DSN string
	// Port is the loopback TCP port.
	Port int

	t    testing.TB
	bin  string
	data string
	cred *syscall.Credential
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPostgres initialises a cluster in a new temporary folder and starts
// it; t.Cleanup stops it and removes the folder.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{t: t, bin: bin}
	p.cred, err = serverUser()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parents are 0700 root, which the server's user
	// cannot traverse.
	base, err := os.MkdirTemp("", "leakgate-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	p.data = filepath.Join(base, "data")
	p.log = filepath.Join(base, "server.log")
	for _, path := range []string{p.data, p.log} {
		if path == p.data {
			err = os.Mkdir(path, 0o700)
		} else {
			err = os.WriteFile(path, nil, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.cred != nil {
			if err := os.Chown(path, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", "leakgate", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	initdb.Dir = base
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb in %s: %v\n%s", p.data, err, out)
	}
	p.Port, err = freePort()
	if err != nil {
		t.Fatal(err)
	}
	p.DSN = fmt.Sprintf("postgres://leakgate@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	t.Cleanup(func() { p.Stop() })
	p.Start()
	return p
}

// BinDir finds the PostgreSQL server binaries: initdb on PATH, else the
// newest /usr/lib/postgresql/VERSION/bin (Debian keeps them off PATH).
func BinDir() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(path), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries not found (no initdb on PATH nor in /usr/lib/postgresql/*/bin); install them with scripts/deps.sh (apt-get install postgresql)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// serverUser is who runs the server: the postgres user (else nobody) when
// the test runs as root, which PostgreSQL refuses; nil (ourselves) otherwise.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as; create one (useradd -r postgres)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server (again, after Stop) on the same port and data,
// and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	logf, err := os.OpenFile(p.log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data, "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "max_connections=50")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("start postgres: %v", err)
	}
	logf.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // its exit is reported through done
	p.cmd, p.done = cmd, done
	if err := p.waitReady(done); err != nil {
		log, _ := os.ReadFile(p.log)
		p.t.Fatalf("postgres on port %d did not become ready: %v\n%s", p.Port, err, log)
	}
}

func (p *Postgres) waitReady(done <-chan struct{}) error {
	db, err := sql.Open("pgx", p.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New("the server exited")
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down at once (SIGQUIT, PostgreSQL's immediate
// shutdown: no checkpoint, every client cut off) and waits for it.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGQUIT) //nolint:errcheck // it may have exited already
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		// The server's own process group only: never anything else.
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // best effort after a hang
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// NewDatabase creates a fresh database on the server and returns its DSN,
// so tests sharing one server do not see each other's rows.
func (p *Postgres) NewDatabase(t testing.TB, name string) string {
	t.Helper()
	db, err := sql.Open("pgx", p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE "` + name + `"`); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return fmt.Sprintf("postgres://leakgate@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}
