package db_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// ClassifyName is the one list of the names dualdb writes; everything
// else is foreign and never deleted.
func TestClassifyName(t *testing.T) {
	for name, want := range map[string]db.FileKind{
		"wal.db":                              db.KindWAL,
		"snap":                                db.KindSnapDir,
		"snap/00000000000000000006.dsnap":     db.KindSnapshot,
		"snap/00000000000000000006.dsnap.tmp": db.KindSnapshotTemp,
		"snap/00000000000000000006.dsnap.damaged-20260101T000000Z": db.KindDamagedSnapshot,
		"wal.db.repair.tmp":               db.KindRepairTemp,
		"wal.db.damaged-20260101T000000Z": db.KindDamagedWAL,
		".dualdb-demo":                    db.KindDemoMarker,
		"dualdb.sock":                     db.KindSocket,
		// Foreign: near misses of the names above, and anything else.
		"old.tmp":                             db.KindForeign,
		"snap/old.tmp":                        db.KindForeign,
		"snap/6.dsnap":                        db.KindForeign,
		"snap/0000000000000000000x.dsnap":     db.KindForeign,
		"snap/00000000000000000006.dsnap.bak": db.KindForeign,
		"snap/x.dsnap.tmp":                    db.KindForeign,
		"00000000000000000006.dsnap":          db.KindForeign, // a snapshot outside snap/
		"snap/wal.db":                         db.KindForeign,
		"wal.db.damaged-":                     db.KindForeign,
		"wal.db-journal":                      db.KindForeign,
		"snap/sub/00000000000000000006.dsnap": db.KindForeign,
		"notes.txt":                           db.KindForeign,
	} {
		if got := db.ClassifyName(name); got != want {
			t.Errorf("ClassifyName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A checkpoint that drops old snapshots leaves nothing a later Open warns
// about or has to remove: the dropped files were recorded as dualdb's and
// removed.
func TestCheckpoint_DroppedSnapshotsLeaveNoStrangers(t *testing.T) {
	dir := t.TempDir()
	var log logRecorder
	opts := &db.Options{CheckpointEvery: -1, NoSync: true, KeepSnapshots: 1, Logger: log.logger()}
	d, err := db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		mustPut(t, d, string(rune('a'+i)), string(rune('A'+i)), "v")
		if _, err := d.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	if got := snapFiles(t, dir); len(got) != 1 {
		t.Fatalf("snap/ holds %v, want the newest snapshot only", got)
	}
	d, err = db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if s := log.String(); s != "" {
		t.Errorf("Open logged:\n%s", s)
	}
	rep, err := db.Verify(dir, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %v", err, rep.Findings)
	}
}

type logRecorder struct{ b strings.Builder }

func (l *logRecorder) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&l.b, nil)) }
func (l *logRecorder) String() string       { return l.b.String() }
