package store

import (
	"database/sql"
	"sync"
	"time"
)

// SQLite's WAL is copied back into the database file by checkpoints. Left
// to SQLite, the commit that crosses wal_autocheckpoint runs one, and its
// copy and fsyncs (tens of milliseconds here) hold the single writer, so
// every lead waiting behind that commit waits for them too.
//
// Instead a connection of its own checkpoints every checkpointEvery in
// PASSIVE mode, which never blocks the writer: it copies the bulk and
// fsyncs it. Such a checkpoint never quite reaches the end of a log that
// is being written to, and the log only starts over once a checkpoint has
// reached its end, so when the log passes restartPages the checkpointer
// finishes the job on the writer's connection, between two transactions:
// what is left is what was written since its last pass, a short copy.
// wal_autocheckpoint stays only as a backstop, should this fall behind.
const (
	checkpointEvery    = 100 * time.Millisecond
	restartPages       = 16384  // 64 MiB of WAL at 4 KiB pages
	backstopCheckpoint = 262144 // 1 GiB
)

// checkpointer runs passive checkpoints until stop is called.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done sync.WaitGroup
}

func startCheckpointer(s *Store, dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{})}
	c.done.Go(func() {
		tick := time.NewTicker(checkpointEvery)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			var busy, frames, copied int
			err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
			if err == nil && frames >= restartPages {
				_, err = s.w.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
			if err != nil {
				s.log.Warn("checkpoint the write-ahead log", "err", err)
			}
		}
	})
	return c, nil
}

func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
