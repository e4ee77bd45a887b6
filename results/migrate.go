package results

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are the schema's versions, oldest first; migration i brings a
// store from version i to i+1. Append, never edit: a store in the field is
// at any of these versions. The SQL is the subset SQLite and PostgreSQL
// share (times are Unix milliseconds, points a BLOB/BYTEA).
var migrations = [][]string{
	// 1: runs, their judged series and findings.
	{
		`CREATE TABLE runs (
			id TEXT PRIMARY KEY,
			release_label TEXT NOT NULL DEFAULT '',
			firmware TEXT NOT NULL DEFAULT '',
			kernel TEXT NOT NULL DEFAULT '',
			rig TEXT NOT NULL DEFAULT '',
			profile TEXT NOT NULL DEFAULT '',
			config_digest TEXT NOT NULL DEFAULT '',
			policy TEXT NOT NULL DEFAULT '',
			started_ms BIGINT NOT NULL,
			ended_ms BIGINT NOT NULL DEFAULT 0,
			verdict TEXT NOT NULL,
			run_dir TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE TABLE series (
			run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
			kind TEXT NOT NULL,
			subject TEXT NOT NULL,
			unit TEXT NOT NULL DEFAULT '',
			slope_per_hour DOUBLE PRECISION NOT NULL DEFAULT 0,
			slope_low_per_hour DOUBLE PRECISION NOT NULL DEFAULT 0,
			slope_high_per_hour DOUBLE PRECISION NOT NULL DEFAULT 0,
			p_value DOUBLE PRECISION NOT NULL DEFAULT 1,
			growth DOUBLE PRECISION NOT NULL DEFAULT 0,
			end_level DOUBLE PRECISION NOT NULL DEFAULT 0,
			verdict TEXT NOT NULL DEFAULT '',
			points_count INTEGER NOT NULL DEFAULT 0,
			points BYTEA,
			PRIMARY KEY (run_id, kind, subject)
		)`,
		`CREATE TABLE findings (
			run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
			position INTEGER NOT NULL,
			kind TEXT NOT NULL,
			subject TEXT NOT NULL,
			verdict TEXT NOT NULL,
			reason TEXT NOT NULL DEFAULT '',
			finding TEXT NOT NULL,
			PRIMARY KEY (run_id, position)
		)`,
	},
	// 2: when a row was (re)imported, and the index the baseline and
	// history look-ups walk (rig, profile, newest first).
	{
		`ALTER TABLE runs ADD COLUMN imported_ms BIGINT NOT NULL DEFAULT 0`,
		`CREATE INDEX runs_rig_profile_started ON runs (rig, profile, started_ms)`,
		`CREATE INDEX runs_release ON runs (release_label)`,
	},
}

// migrate brings the schema to version target (len(migrations) for the
// current one; tests stop earlier to build an older store). Each step runs
// in its own transaction with the schema_version row, under a lock, so
// runners opening one store at once migrate it once.
func (s *Store) migrate(ctx context.Context, target int) error {
	if err := s.createVersionTable(ctx); err != nil {
		return err
	}
	for {
		done, err := s.migrateStep(ctx, target)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// createVersionTable creates schema_version if missing. On PostgreSQL two
// runners' CREATE TABLE IF NOT EXISTS can still collide in the catalogue,
// so it runs under the migration lock.
func (s *Store) createVersionTable(ctx context.Context) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
	if s.dialect != dialectPostgres {
		if _, err := s.db.ExecContext(ctx, create); err != nil {
			return s.classify("create schema_version", err)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify("create schema_version", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+migrationLock+`)`); err != nil {
		return s.classify("lock schema", err)
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return s.classify("create schema_version", err)
	}
	if err := tx.Commit(); err != nil {
		return s.classify("create schema_version", err)
	}
	return nil
}

// migrationLock is the PostgreSQL advisory lock key migrations hold.
const migrationLock = "7317016"

// migrateStep applies the next migration, if any is below target, and
// reports whether the schema is at target.
func (s *Store) migrateStep(ctx context.Context, target int) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, s.classify("migrate", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if s.dialect == dialectPostgres {
		// One migrator at a time across every runner (SQLite's immediate
		// transaction already is such a lock).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+migrationLock+`)`); err != nil {
			return false, s.classify("lock schema", err)
		}
	}
	version, err := readVersion(ctx, tx)
	if err != nil {
		return false, s.classify("read schema version", err)
	}
	if version > len(migrations) {
		return false, fmt.Errorf("results store %s has schema version %d, newer than this leakgate knows (%d); use a newer leakgate", s.where, version, len(migrations))
	}
	if version >= target {
		return true, nil
	}
	for _, stmt := range migrations[version] {
		if _, err := tx.ExecContext(ctx, s.ddl(stmt)); err != nil {
			return false, s.classify(fmt.Sprintf("migrate to schema version %d", version+1), err)
		}
	}
	if version == 0 {
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (1)`)
	} else {
		_, err = tx.ExecContext(ctx, s.rebind(`UPDATE schema_version SET version = ?`), version+1)
	}
	if err != nil {
		return false, s.classify("record schema version", err)
	}
	if err := tx.Commit(); err != nil {
		return false, s.classify("commit migration", err)
	}
	return version+1 >= target, nil
}

// readVersion is the schema's version; 0 for an empty store.
func readVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// SchemaVersion is the store's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, s.classify("read schema version", err)
	}
	return int(v.Int64), nil
}

// ddl adapts a statement to the dialect: SQLite spells BYTEA as BLOB.
func (s *Store) ddl(stmt string) string {
	if s.dialect == dialectSQLite {
		return strings.ReplaceAll(stmt, "BYTEA", "BLOB")
	}
	return stmt
}
