package db

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/dualdb/dualdb/internal/dberr"
)

// Meta keys in wal.db's meta bucket. Part of the on-disk format.
const (
	metaFormat    = "format"    // 4-byte big-endian store format
	metaStoreID   = "store_id"  // 16 random bytes
	metaCreated   = "created"   // JSON createdOptions
	metaSnapshots = "snapshots" // JSON []uint64, oldest first
	// metaUnlisted: JSON []uint64, versions of snapshot files dualdb may
	// have written that the list does not hold: a checkpoint in progress,
	// or snapshots dropped from the list and not yet removed. Open removes
	// these files, and only these (besides temp files). Absent in stores
	// written before it existed, which read it as empty.
	metaUnlisted = "snapshots_unlisted"
)

// storeFormat is the version of the layout of wal.db's meta bucket (the
// keys above) that this package writes and reads. Part of the on-disk
// format. Snapshot files carry their own version, snapshot.FormatVersion.
const storeFormat uint32 = 1

// createdOptions are the options fixed when the store was created.
type createdOptions struct {
	MaxKeySize   int `json:"max_key_size"`
	MaxValueSize int `json:"max_value_size"`
}

// storeMeta is what wal.db's meta bucket says about a store.
type storeMeta struct {
	Format       uint32
	StoreID      [16]byte
	MaxKeySize   int      // fixed at creation
	MaxValueSize int      // fixed at creation
	Snapshots    []uint64 // versions of the kept snapshots, oldest first
	Unlisted     []uint64 // versions of snapshot files dualdb wrote or dropped that Snapshots does not hold
}

// readMeta loads the meta bucket; ok is false for a store never initialized.
func (d *DB) readMeta() (m storeMeta, ok bool, err error) {
	f, err := d.log.GetMeta(metaFormat)
	if err != nil {
		return m, false, err
	}
	if f == nil {
		return m, false, nil
	}
	path := d.walPath()
	if len(f) != 4 {
		return m, false, dberr.AtOffset(path, -1, "meta %q is %d bytes, want 4", metaFormat, len(f))
	}
	m.Format = binary.BigEndian.Uint32(f)
	if m.Format != storeFormat {
		return m, false, dberr.AtOffset(path, -1, "unknown store format version %d (this build reads %d)", m.Format, storeFormat)
	}
	id, err := d.log.GetMeta(metaStoreID)
	if err != nil {
		return m, false, err
	}
	if len(id) != 16 {
		return m, false, dberr.AtOffset(path, -1, "meta %q is %d bytes, want 16", metaStoreID, len(id))
	}
	copy(m.StoreID[:], id)
	var co createdOptions
	if b, err := d.log.GetMeta(metaCreated); err != nil {
		return m, false, err
	} else if err := json.Unmarshal(b, &co); err != nil {
		return m, false, dberr.AtOffset(path, -1, "meta %q: %v", metaCreated, err)
	}
	m.MaxKeySize, m.MaxValueSize = co.MaxKeySize, co.MaxValueSize
	if b, err := d.log.GetMeta(metaSnapshots); err != nil {
		return m, false, err
	} else if b != nil {
		if err := json.Unmarshal(b, &m.Snapshots); err != nil {
			return m, false, dberr.AtOffset(path, -1, "meta %q: %v", metaSnapshots, err)
		}
	}
	if b, err := d.log.GetMeta(metaUnlisted); err != nil {
		return m, false, err
	} else if b != nil {
		if err := json.Unmarshal(b, &m.Unlisted); err != nil {
			return m, false, dberr.AtOffset(path, -1, "meta %q: %v", metaUnlisted, err)
		}
	}
	return m, true, nil
}

// initMeta records a new store's identity and creation options.
func (d *DB) initMeta() (storeMeta, error) {
	m := storeMeta{Format: storeFormat, MaxKeySize: d.opts.MaxKeySize, MaxValueSize: d.opts.MaxValueSize}
	if _, err := rand.Read(m.StoreID[:]); err != nil {
		return m, fmt.Errorf("dualdb: store id: %w", err)
	}
	co, _ := json.Marshal(createdOptions{MaxKeySize: m.MaxKeySize, MaxValueSize: m.MaxValueSize})
	err := d.log.PutMeta(map[string][]byte{
		metaFormat:    binary.BigEndian.AppendUint32(nil, storeFormat),
		metaStoreID:   m.StoreID[:],
		metaCreated:   co,
		metaSnapshots: []byte("[]"),
	})
	if err != nil {
		return m, err // names wal.db
	}
	return m, nil
}

// writeSnapshotList records the kept snapshots, oldest first, and the
// versions of snapshot files dualdb wrote or dropped that are not kept
// (unlisted), in one transaction.
func (d *DB) writeSnapshotList(versions, unlisted []uint64) error {
	b, _ := json.Marshal(versions)
	u, _ := json.Marshal(unlisted)
	return d.log.PutMeta(map[string][]byte{metaSnapshots: b, metaUnlisted: u})
}

// writeUnlisted records the versions of snapshot files dualdb may have
// written that the list does not hold.
func (d *DB) writeUnlisted(unlisted []uint64) error {
	u, _ := json.Marshal(unlisted)
	return d.log.PutMeta(map[string][]byte{metaUnlisted: u})
}
