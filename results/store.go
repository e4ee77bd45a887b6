// Package results is the results store: an index over run folders that
// remembers every soak (release, rig, profile, verdict), its judged series
// and its findings, so a release can be compared with the one before it on
// the same rig and a series followed across releases.
//
// A path is a SQLite file (the pure-Go modernc.org/sqlite driver, no cgo);
// a postgres:// URL is a PostgreSQL server (pgx through database/sql) for a
// rig farm whose runners all write to one store. Both share one code path:
// the same SQL, with placeholders rewritten for PostgreSQL.
//
// The run folder stays the source of truth: Record only reads it, and the
// store can be rebuilt from run folders at any time.
package results

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is an open results store. Its methods are safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect
	// where names the store in errors: the SQLite path, or the PostgreSQL
	// URL without its password.
	where string
	// afterRunRow, when set (tests), runs inside Record's transaction after
	// the run's row is written and before its series: the moment a store
	// stopped mid-write is exercised.
	afterRunRow func()
}

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// UnavailableError is returned when the store cannot be reached or cannot
// take a write (server down, connection lost, disk full, locked too long).
// A soak reports it and goes on: the run folder is complete, and
// `leakgate import RUN_DIR --db DSN` catches the store up later.
type UnavailableError struct {
	// Store names the store (a path, or a URL without password).
	Store string
	Op    string
	Err   error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("results store %s unavailable (%s): %v; the run folder is complete, catch the store up later with leakgate import RUN_DIR --db DSN", e.Store, e.Op, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// CorruptError is returned when a SQLite file is not a usable database.
// Nothing is written to it or beside it.
type CorruptError struct {
	Path   string
	Detail string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("results store %s is not a usable SQLite database (%s); it was left untouched: move it aside and rebuild the index with leakgate import RUN_DIR... --db %s", e.Path, e.Detail, e.Path)
}

// noHeader is the CorruptError detail of a file without SQLite's header.
const noHeader = "no SQLite header"

// sqliteMagic opens every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// Open opens (creating when needed) the store at dsn and brings its schema
// to the current version. dsn is a file path for SQLite or a postgres:// URL.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("open results store: no DSN; give --db PATH or --db postgres://USER@HOST:PORT/DB")
	}
	var s *Store
	if isPostgres(dsn) {
		db, err := sqlOpenPgx(dsn)
		if err != nil {
			return nil, err
		}
		s = &Store{db: db, dialect: dialectPostgres, where: redact(dsn)}
	} else {
		checkErr := checkSQLite(ctx, dsn)
		if checkErr != nil && !inUse(dsn, checkErr) {
			return nil, checkErr
		}
		db, err := openSQLite(dsn)
		if err != nil {
			return nil, err
		}
		s = &Store{db: db, dialect: dialectSQLite, where: dsn}
		if checkErr != nil {
			// Another runner is writing: the immutable read may have seen
			// a checkpoint half-way. Check again through a locking
			// connection, which reads the WAL as SQLite means it to.
			if err := s.quickCheck(ctx); err != nil {
				s.db.Close()
				return nil, err
			}
		}
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, s.classify("connect", err)
	}
	if err := s.migrate(ctx, len(migrations)); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store's connections.
func (s *Store) Close() error { return s.db.Close() }

// String names the store (a path, or a URL without its password).
func (s *Store) String() string { return s.where }

// sqlOpenPgx prepares a PostgreSQL pool (no connection is made yet).
func sqlOpenPgx(dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open results store %s: %w", redact(dsn), err)
	}
	return db, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redact drops the password from a URL DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// openSQLite refuses a file that is not a SQLite database before the driver
// touches it (the driver would otherwise fail later, or create a WAL beside
// it), then opens it with WAL, a busy timeout long enough for 8 runners
// writing at once, and writes that take the lock up front.
func openSQLite(path string) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open results store %s: a SQLite path may not contain ? or #; rename the file", path)
	}
	q := url.Values{}
	q.Set("_busy_timeout", "30000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open results store %s: %w", path, err)
	}
	return db, nil
}

// checkMagic returns a CorruptError for an existing, non-empty file whose
// header is not SQLite's. A missing or empty file is a new store.
func checkMagic(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &UnavailableError{Store: path, Op: "open", Err: err}
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, err := io.ReadFull(f, head)
	if n == 0 && (errors.Is(err, io.EOF)) {
		return nil
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return &UnavailableError{Store: path, Op: "read header", Err: err}
	}
	if !bytes.Equal(head[:n], sqliteMagic) {
		return &CorruptError{Path: path, Detail: noHeader}
	}
	return nil
}

// checkSQLite runs SQLite's quick integrity check (every page is read)
// on an existing file through a read-only, immutable connection, which
// creates no journal, WAL or lock file beside it: a torn or overwritten
// store is reported before anything is written to it or its folder.
func checkSQLite(ctx context.Context, path string) error {
	if err := checkMagic(path); err != nil {
		return err
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return nil // a new store
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		return fmt.Errorf("open results store %s: %w", path, err)
	}
	defer db.Close()
	return (&Store{db: db, where: path}).quickCheck(ctx)
}

// quickCheck runs PRAGMA quick_check on the store's connection.
func (s *Store) quickCheck(ctx context.Context) error {
	var res string
	if err := s.db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return s.classify("check integrity", err)
	}
	if res != "ok" {
		return &CorruptError{Path: s.where, Detail: "integrity check: " + res}
	}
	return nil
}

// inUse reports whether a failed immutable check may be another writer's
// doing rather than corruption: the store has a WAL beside it (it exists
// while any connection has the store open, and after a crash).
func inUse(path string, checkErr error) bool {
	var ce *CorruptError
	if !errors.As(checkErr, &ce) || ce.Detail == noHeader {
		return false
	}
	_, err := os.Stat(path + "-wal")
	return err == nil
}

// classify turns a driver error into a CorruptError, an UnavailableError or
// a plain wrapped error (a bug or bad data: retrying does not help).
func (s *Store) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return &CorruptError{Path: s.where, Detail: se.Error()}
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY,
			sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return &UnavailableError{Store: s.where, Op: op, Err: err}
		}
		return fmt.Errorf("results store %s: %s: %w", s.where, op, err)
	}
	var ue *UnavailableError
	var ce *CorruptError
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		strings.Contains(err.Error(), "database is closed") {
		return &UnavailableError{Store: s.where, Op: op, Err: err}
	}
	if s.dialect == dialectPostgres && !isDataError(err) {
		// Anything that is not the server refusing our data is the link
		// or the server: connection refused, reset, shut down.
		return &UnavailableError{Store: s.where, Op: op, Err: err}
	}
	return fmt.Errorf("results store %s: %s: %w", s.where, op, err)
}

// isDataError reports a PostgreSQL error about the statement or data
// (SQLSTATE classes 22 data exception, 23 integrity, 42 syntax/access),
// which a retry does not cure; the server shutting down (57P) is not one.
func isDataError(err error) bool {
	type sqlStater interface{ SQLState() string }
	var st sqlStater
	if !errors.As(err, &st) {
		return false
	}
	code := st.SQLState()
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "22", "23", "42":
		return true
	}
	return false
}

// rebind rewrites ? placeholders as $1, $2… for PostgreSQL. The SQL here
// never has a ? inside a string literal.
func (s *Store) rebind(q string) string {
	if s.dialect != dialectPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
