package db_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/storecorpus"
)

// corpusWant is what each operation must do on one kind of store.
//
//	"ok"           success (Verify: no findings; Inspect: the store loads)
//	"corrupt F"    ErrCorrupt, a *CorruptionError naming file F
//	"notstore"     ErrNotStore
//	"io F"         another error, naming F
//	"finding C"    Verify: findings, the first of check C
//	"described"    Inspect: a description with LoadError set
//	"plan"         PlanRepair: a plan (then Repair runs, and Verify passes)
//	"refused"      PlanRepair: ErrNoRepair
//
// writes lists the operations allowed to change the directory.
type corpusWant struct {
	rw, ro, verify, inspect, repair string
	writes                          []string
	warns                           []string // names Open's one warning must give
}

var corpusTable = map[string]corpusWant{
	"missing-dir":             {rw: "ok", ro: "notstore", verify: "notstore", inspect: "notstore", repair: "notstore", writes: []string{"rw"}},
	"empty-dir":               {rw: "ok", ro: "notstore", verify: "notstore", inspect: "notstore", repair: "notstore", writes: []string{"rw"}},
	"healthy":                 {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused"},
	"empty-store":             {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused"},
	"wal-missing":             {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding wal", inspect: "described", repair: "plan"},
	"wal-empty":               {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding wal", inspect: "described", repair: "plan"},
	"wal-truncated":           {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding wal", inspect: "described", repair: "plan"},
	"wal-garbage":             {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding wal", inspect: "described", repair: "plan"},
	"wal-dir":                 {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding wal", inspect: "described", repair: "plan"},
	"wal-no-meta":             {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding meta", inspect: "described", repair: "plan"},
	"wal-bad-record":          {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding wal", inspect: "described", repair: "plan"},
	"future-format":           {rw: "corrupt wal.db", ro: "corrupt wal.db", verify: "finding meta", inspect: "described", repair: "refused"},
	"snap-is-file":            {rw: "io snap", ro: "io snap", verify: "finding snapshot-dir", inspect: "described", repair: "refused"},
	"snapshot-unreadable":     {rw: "io 00000000000000000006.dsnap", ro: "io 00000000000000000006.dsnap", verify: "finding snapshot", inspect: "described", repair: "io 00000000000000000006.dsnap"},
	"snapshot-corrupt":        {rw: "ok", ro: "ok", verify: "finding snapshot", inspect: "ok", repair: "refused"},
	"snapshot-missing":        {rw: "ok", ro: "ok", verify: "finding snapshot-missing", inspect: "ok", repair: "refused"},
	"extra-files":             {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused", warns: []string{"notes.txt", "snap/old.tmp"}},
	"foreign-snapshot-name":   {rw: "ok", ro: "ok", verify: "finding snapshot-unlisted", inspect: "ok", repair: "refused", warns: []string{"snap/00000000000000000099.dsnap"}},
	"snapshot-newer-than-wal": {rw: "ok", ro: "ok", verify: "finding snapshot-unlisted", inspect: "ok", repair: "refused", warns: []string{"snap/00000000000000000010.dsnap"}},
	"leftover-temp":           {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused", writes: []string{"rw"}},
	"leftover-in-progress":    {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused", writes: []string{"rw"}},
	"damaged-kept":            {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused"},
	"demo-marker":             {rw: "ok", ro: "ok", verify: "ok", inspect: "ok", repair: "refused"},
	"foreign-dir":             {rw: "notstore", ro: "notstore", verify: "notstore", inspect: "notstore", repair: "notstore"},
}

// corpusDir returns a fresh copy of kind: a corpus store, or one of the
// two kinds git cannot hold (a missing and an empty directory).
func corpusDir(t *testing.T, kind string) string {
	switch kind {
	case "missing-dir":
		return filepath.Join(t.TempDir(), "missing")
	case "empty-dir":
		return t.TempDir()
	}
	return storecorpus.Copy(t, kind)
}

// TestCorpus_Sweep runs Open read-write, Open read-only, Verify, Inspect
// and PlanRepair/Repair on every kind of the damaged-store corpus. Each
// outcome must be the one corpusTable gives, every error must name its
// file, and no file may change unless the operation is one that writes.
func TestCorpus_Sweep(t *testing.T) {
	for _, k := range storecorpus.Kinds {
		if _, ok := corpusTable[k.Name]; !ok {
			t.Errorf("corpus kind %s has no row in corpusTable", k.Name)
		}
	}
	for kind, w := range corpusTable {
		for _, op := range []string{"rw", "ro", "verify", "inspect", "repair"} {
			t.Run(kind+"/"+op, func(t *testing.T) {
				dir := corpusDir(t, kind)
				before := fingerprint(t, dir)
				var logBuf bytes.Buffer
				logger := slog.New(slog.NewTextHandler(&logBuf, nil))
				var want string
				var got error
				switch op {
				case "rw", "ro":
					want = map[string]string{"rw": w.rw, "ro": w.ro}[op]
					d, err := db.Open(dir, &db.Options{ReadOnly: op == "ro", Logger: logger, CheckpointEvery: -1})
					if err == nil {
						err = d.Close()
					}
					got = err
					for _, name := range w.warns {
						if n := strings.Count(logBuf.String(), "did not write"); n != 1 || !strings.Contains(logBuf.String(), name) {
							t.Errorf("Open logged %d warnings about strangers, want one naming %s:\n%s", n, name, logBuf.String())
						}
					}
					if len(w.warns) == 0 && strings.Contains(logBuf.String(), "did not write") {
						t.Errorf("Open warned about a store with no strangers:\n%s", logBuf.String())
					}
				case "verify":
					want = w.verify
					rep, err := db.Verify(dir, nil)
					got = err
					if err == nil {
						got = findingsErr(rep)
					}
				case "inspect":
					want = w.inspect
					info, err := db.Inspect(dir)
					got = err
					if err == nil && info.LoadError != "" {
						got = errDescribed
					}
				case "repair":
					want = w.repair
					plan, err := db.PlanRepair(dir)
					got = err
					if err == nil {
						got = errPlanned
						if after := fingerprint(t, dir); after != before {
							t.Errorf("PlanRepair changed the directory")
						}
						checkRepair(t, dir, plan)
					}
				}
				checkOutcome(t, dir, got, want)
				wrote := false
				for _, o := range w.writes {
					wrote = wrote || o == op
				}
				if after := fingerprint(t, dir); !wrote && want != "plan" && after != before {
					t.Errorf("%s changed the directory:\nbefore:\n%s\nafter:\n%s", op, before, after)
				}
			})
		}
	}
}

var (
	errDescribed = errors.New("described")
	errPlanned   = errors.New("plan")
)

type findingsError struct{ rep *db.VerifyReport }

func (e *findingsError) Error() string { return "findings: " + e.rep.Findings[0].String() }

func findingsErr(rep *db.VerifyReport) error {
	if rep.OK() {
		return nil
	}
	return &findingsError{rep}
}

func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	fp, err := storecorpus.Fingerprint(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// checkOutcome compares got with a corpusWant code.
func checkOutcome(t *testing.T, dir string, got error, want string) {
	t.Helper()
	code, file, _ := strings.Cut(want, " ")
	var ce *db.CorruptionError
	var fe *findingsError
	switch code {
	case "ok":
		if got != nil {
			t.Fatalf("got %v, want success", got)
		}
	case "corrupt":
		if !errors.As(got, &ce) || !errors.Is(got, db.ErrCorrupt) || filepath.Base(ce.File) != file {
			t.Fatalf("got %v, want ErrCorrupt naming %s", got, file)
		}
	case "notstore":
		if !errors.Is(got, db.ErrNotStore) {
			t.Fatalf("got %v, want ErrNotStore", got)
		}
	case "io":
		if got == nil || errors.Is(got, db.ErrCorrupt) || !strings.Contains(got.Error(), file) {
			t.Fatalf("got %v, want an error naming %s that is not ErrCorrupt", got, file)
		}
	case "finding":
		if !errors.As(got, &fe) || fe.rep.Findings[0].Check != file {
			t.Fatalf("got %v, want a finding of check %s", got, file)
		}
		if !strings.HasPrefix(fe.rep.Findings[0].File, dir) {
			t.Fatalf("finding names %s, not a file of the store", fe.rep.Findings[0].File)
		}
	case "described", "plan":
		if !errors.Is(got, map[string]error{"described": errDescribed, "plan": errPlanned}[code]) {
			t.Fatalf("got %v, want %s", got, code)
		}
	case "refused":
		if !errors.Is(got, db.ErrNoRepair) {
			t.Fatalf("got %v, want ErrNoRepair", got)
		}
	default:
		t.Fatalf("bad want %q", want)
	}
}

// checkRepair carries out plan and checks the result: Verify passes, the
// store opens with the snapshot's records and id, the damaged wal.db is
// kept, and nothing else was removed.
func checkRepair(t *testing.T, dir string, plan *db.RepairPlan) {
	t.Helper()
	if plan.SnapshotVersion != storecorpus.NewSnapshot || plan.StoreID != storecorpus.StoreID {
		t.Errorf("plan rebuilds from version %d of store %x, want %d of %x", plan.SnapshotVersion, plan.StoreID, storecorpus.NewSnapshot, storecorpus.StoreID)
	}
	if !strings.Contains(plan.Lost(), "after") {
		t.Errorf("plan.Lost() = %q", plan.Lost())
	}
	var walBefore []byte
	if plan.KeepWAL != "" {
		walBefore, _ = os.ReadFile(filepath.Join(dir, db.WALFile))
	}
	if err := db.Repair(plan); err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if plan.KeepWAL != "" {
		if st, err := os.Stat(plan.KeepWAL); err != nil {
			t.Errorf("damaged wal.db not kept: %v", err)
		} else if st.Mode().IsRegular() {
			if kept, _ := os.ReadFile(plan.KeepWAL); !bytes.Equal(kept, walBefore) {
				t.Errorf("kept wal.db differs from the damaged one")
			}
		}
	}
	rep, err := db.Verify(dir, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify after Repair: %v %v", err, rep.Findings)
	}
	d, err := db.Open(dir, &db.Options{Logger: quietLog, CheckpointEvery: -1})
	if err != nil {
		t.Fatalf("Open after Repair: %v", err)
	}
	defer d.Close()
	if d.Version() != storecorpus.NewSnapshot {
		t.Errorf("version after Repair = %d, want %d", d.Version(), storecorpus.NewSnapshot)
	}
	if err := d.Put([]byte("after-repair"), []byte("after-repair"), nil); err != nil {
		t.Errorf("Put after Repair: %v", err)
	}
	if _, err := db.PlanRepair(dir); !errors.Is(err, db.ErrLocked) {
		t.Errorf("PlanRepair of a store held open = %v, want ErrLocked", err)
	}
}

// A second repair in the same second never overwrites the damaged wal.db
// the first one kept.
func TestRepair_NeverOverwritesAKeptFile(t *testing.T) {
	dir := storecorpus.Copy(t, "wal-garbage")
	plan, err := db.PlanRepair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plan.KeepWAL, []byte("kept by an earlier repair"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err = db.PlanRepair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Repair(plan); err != nil {
		t.Fatal(err)
	}
	kept, err := filepath.Glob(filepath.Join(dir, db.DamagedWALPrefix+"*"))
	if err != nil || len(kept) != 2 {
		t.Fatalf("kept files %v, want the earlier one and this repair's", kept)
	}
	for _, k := range kept {
		if b, _ := os.ReadFile(k); string(b) == "kept by an earlier repair" {
			return
		}
	}
	t.Error("the earlier kept file was overwritten")
}
