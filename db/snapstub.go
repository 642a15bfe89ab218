package db

import (
	"errors"

	"github.com/dualdb/dualdb/btreeidx"
)

type checkpointer struct{ snapshots []uint64 }

func (c *checkpointer) start(d *DB)                                {}
func (c *checkpointer) stop()                                      {}
func (c *checkpointer) noteCommits(d *DB, n int)                   {}
func (d *DB) removeLeftovers(m Meta) error                         { return nil }
func (d *DB) loadSnapshot(m Meta) (*btreeidx.Index, uint64, error) { return btreeidx.New(), 0, nil }

// Checkpoint is not yet supported.
func (d *DB) Checkpoint() (uint64, error) {
	return 0, errors.New("dualdb: checkpoint not yet supported")
}
