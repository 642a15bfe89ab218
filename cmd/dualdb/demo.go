package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/spf13/cobra"
)

// demoSeed makes the demo's users the same on every run.
const demoSeed = 2026

func newDemoCmd() *cobra.Command {
	var (
		dir     string
		records int
		batch   int
	)
	c := &cobra.Command{
		Use:   "demo [--dir D] [--records N]",
		Short: "Build a store of users, swap two e-mails atomically, recover, verify",
		Long: `demo shows what dualdb is for on a store of realistic users: records keyed
by id ("user:0000000001") with a unique e-mail address as index key and a
JSON profile as value.

It creates a fresh store in D and marks it as the demo's with a file
` + "`" + demoMarker + "`" + ` holding the store's id. A store that demo made before is
replaced, unless a process holds it open; any other non-empty directory
(a store demo did not make, other files) is refused and left as it is,
with exit code 2. It then loads N users in atomic batches with a progress
bar (standard error, on a terminal only), prints the first users by id and
by e-mail, swaps two users' e-mail addresses in one Update (no reader ever
sees both users with one address, or one without any), takes a checkpoint,
closes and reopens the store and prints how long recovery took, runs
verify and prints the inspect summary.`,
		Example: `  dualdb demo
  dualdb demo --dir /tmp/users --records 1000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if records < 2 {
				return usageErr("--records must be at least 2 (the demo swaps two users' e-mails)")
			}
			if batch < 1 {
				return usageErr("--batch must be at least 1")
			}
			return runDemo(cmd.OutOrStdout(), cmd.ErrOrStderr(), dir, records, batch)
		},
	}
	c.Flags().StringVar(&dir, "dir", "dualdb-demo", "store directory `D`: new, empty, or a store demo made before")
	c.Flags().IntVar(&records, "records", 100_000, "number of users `N` to load")
	c.Flags().IntVar(&batch, "batch", 1000, "users per atomic Update while loading")
	return c
}

// demoMarker is the file demo writes into a store it made, holding the
// store's id in hex: demo replaces only a store that carries it.
const demoMarker = db.DemoMarkerFile

// prepareDemoDir makes dir ready for a new demo store. A missing or empty
// directory is used as it is. A store demo made before (its marker names
// the store's id) that no process holds is removed, file by file, while
// demo holds it. Anything else is refused and left as it is.
func prepareDemoDir(w, stderr io.Writer, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return wrapErr(err, "demo")
	}
	if len(entries) == 0 {
		return nil
	}
	refuse := func(cause error, format string, args ...any) error {
		return userErr(cause, "demo: refusing to replace %s: %s; nothing was changed (use another --dir)",
			dir, fmt.Sprintf(format, args...))
	}
	// refuseErr refuses because of cause, an error of the library, shown
	// as it is.
	refuseErr := func(cause error, why string) error {
		return wrapErr(cause, "demo: refusing to replace %s%s; nothing was changed (use another --dir)", dir, why)
	}
	if _, err := storeFiles(dir, demoMarker); err != nil {
		return refuse(err, "%v", err)
	}
	marker, err := os.ReadFile(filepath.Join(dir, demoMarker))
	if errors.Is(err, fs.ErrNotExist) {
		return refuse(err, "it holds a dualdb store that demo did not make (it has no %s file)", demoMarker)
	}
	if err != nil {
		return refuse(err, "%v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, db.WALFile)); errors.Is(err, fs.ErrNotExist) {
		return refuse(err, "it holds a %s file but no %s, so no store that the file could name", demoMarker, db.WALFile)
	} else if err != nil {
		return refuse(err, "%v", err)
	}
	info, err := db.Inspect(dir)
	if errors.Is(err, db.ErrLocked) {
		return refuse(err, "a process holds the store open")
	}
	if err != nil {
		return refuseErr(err, ": its store id cannot be read")
	}
	if id := strings.TrimSpace(string(marker)); id != info.StoreID {
		return refuse(fs.ErrExist, "its %s file names store %q, but the store there is %s", demoMarker, id, info.StoreID)
	}
	// Hold the store from this check until its files are removed, so that
	// no process opens it in between. No checkpoints: nothing is written.
	d, err := openStoreWith(dir, &db.Options{CheckpointEvery: -1, NoAdminSocket: true}, true, stderr)
	if errors.Is(err, db.ErrLocked) {
		return refuse(err, "a process holds the store open")
	}
	if err != nil {
		return refuseErr(err, ": it does not open")
	}
	fmt.Fprintf(w, "Replacing the previous demo store in %s (store %s)\n", dir, info.StoreID)
	err = removeStore(dir, []string{demoMarker}, []string{dir})
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return wrapErr(err, "demo: remove the previous demo store in %s", dir)
	}
	return nil
}

// markDemoStore writes demo's marker, naming the store's id, into the new
// store in dir, which must be closed.
func markDemoStore(dir string) error {
	info, err := db.Inspect(dir)
	if err != nil {
		return openErr(dir, err)
	}
	path := filepath.Join(dir, demoMarker)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return wrapErr(err, "demo")
	}
	_, err = f.WriteString(info.StoreID + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrapErr(err, "demo: write %s", path)
	}
	return nil
}

// recoveryObserver catches the recovery event of Open.
type recoveryObserver struct {
	db.NopObserver
	ev db.RecoveryEvent
}

func (o *recoveryObserver) Recovery(ev db.RecoveryEvent) { o.ev = ev }

// jsonQuote returns s as a JSON string.
func jsonQuote(s []byte) []byte { return jsonl.AppendString(nil, string(s)) }

// profileName returns the "name" of a JSON profile.
func profileName(value []byte) string {
	var p struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(value, &p) != nil {
		return "?"
	}
	return p.Name
}

func runDemo(stdout, stderr io.Writer, dir string, n, batch int) (err error) {
	w := stdout
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	if err := prepareDemoDir(w, stderr, dir); err != nil {
		return err
	}
	// Create the store and mark it as demo's before anything else, so that
	// the next run replaces it even if this one stops half-way.
	d, err := openStoreWith(dir, &db.Options{CheckpointEvery: -1}, true, stderr)
	if err != nil {
		return err
	}
	if d.Version() != 0 || d.Stats().Records != 0 {
		// Another process made a store here since prepareDemoDir looked.
		closeStore(d, &err)
		return userErr(fs.ErrExist, "demo: %s now holds a store that demo did not make; nothing was changed (use another --dir)", dir)
	}
	if err := d.Close(); err != nil {
		return wrapErr(err, "demo: close")
	}
	if err := markDemoStore(dir); err != nil {
		return err
	}
	say("dualdb demo: users keyed by id, indexed by e-mail, in %s", dir)
	say("")

	// 1. Load.
	d, err = openStoreWith(dir, &db.Options{CheckpointEvery: -1}, false, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if d != nil {
			closeStore(d, &err)
		}
	}()
	bar := newProgress(stderr, "loading users", false, 0)
	start := time.Now()
	for lo := 1; lo <= n; lo += batch {
		hi := min(lo+batch-1, n)
		err := d.Update(func(tx *db.Tx) error {
			for id := lo; id <= hi; id++ {
				u := gen.NewUser(demoSeed, uint64(id))
				if err := tx.Put(u.Key, u.Email, u.Value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			bar.finish()
			return wrapErr(err, "demo: load users %d-%d", lo, hi)
		}
		bar.set(int64(hi), int64(n))
	}
	bar.finish()
	took := time.Since(start)
	say("Loaded %s in %s (%s transactions of up to %s users, each atomic and durable): %s users/s, version %d",
		plural(n, "user", "users"), duration(took), count((n+batch-1)/batch), count(batch),
		count(int64(float64(n)/max(took.Seconds(), 1e-9))), d.Version())
	say("")

	// 2. Read in both orders.
	const rows = 5
	s := d.Snapshot()
	say("First %d users by id (Ascend):", rows)
	printUsers(w, s.Ascend(nil, nil), rows, false)
	say("First %d users by e-mail (AscendIndex):", rows)
	printUsers(w, s.AscendIndex(nil, nil), rows, true)
	say("")

	// 3. Swap two e-mails atomically.
	a, _ := d.Get(gen.NewUser(demoSeed, 1).Key)
	b, _ := d.Get(gen.NewUser(demoSeed, 2).Key)
	say("Swapping the e-mails of %s and %s:", a.Key, b.Key)
	say("  before:  %s -> %s,  %s -> %s", a.Key, a.Index, b.Key, b.Index)
	err = d.Put(a.Key, b.Index, a.Value)
	var ce *db.ConflictError
	if !errors.As(err, &ce) {
		return fmt.Errorf("demo: a Put of a taken e-mail returned %v, want a conflict", err)
	}
	say("  a plain Put of %s with %s's e-mail is refused: the index key belongs to %s", a.Key, b.Key, ce.Owner)
	// The profiles carry the address too: they change in the same commit.
	aValue := bytes.Replace(a.Value, jsonQuote(a.Index), jsonQuote(b.Index), 1)
	bValue := bytes.Replace(b.Value, jsonQuote(b.Index), jsonQuote(a.Index), 1)
	// PutAll stores both records as one step: the e-mails they give up are
	// free for each other, so the swap needs no parking address.
	err = d.PutAll(
		db.Record{Key: a.Key, Index: b.Index, Value: aValue},
		db.Record{Key: b.Key, Index: a.Index, Value: bValue},
	)
	if err != nil {
		return wrapErr(err, "demo: swap")
	}
	ra, _ := d.GetByIndex(a.Index)
	rb, _ := d.GetByIndex(b.Index)
	say("  after one PutAll (version %d):  %s -> %s,  %s -> %s", d.Version(), a.Index, ra.Key, b.Index, rb.Key)
	say("  no reader can see a mix: every reader sees both old addresses or both new ones")
	say("")

	// 4. Checkpoint.
	start = time.Now()
	v, err := d.Checkpoint()
	if err != nil {
		return wrapErr(err, "demo: checkpoint")
	}
	rel := filepath.Join(db.SnapDir, snapshot.FileName(v))
	var snapSize int64
	if fi, err := os.Stat(filepath.Join(dir, rel)); err == nil {
		snapSize = fi.Size()
	}
	say("Checkpoint: %s, version %d, %s, written in %s", rel, v, size(snapSize), duration(time.Since(start)))

	// 5. Close and reopen.
	if err := d.Close(); err != nil {
		d = nil
		return wrapErr(err, "demo: close")
	}
	d = nil
	obs := &recoveryObserver{}
	d, err = openStoreWith(dir, &db.Options{CheckpointEvery: -1, Observer: obs}, false, stderr)
	if err != nil {
		return err
	}
	ev := obs.ev
	say("Reopened: recovery took %s (snapshot of version %d, %s replayed): %s at version %d",
		duration(ev.Duration), ev.SnapshotVersion, plural(ev.Replayed, "WAL record", "WAL records"),
		plural(ev.Records, "record", "records"), ev.Version)
	if r, err := d.GetByIndex(a.Index); err != nil || !slices.Equal(r.Key, b.Key) {
		return fmt.Errorf("demo: after reopening, %s does not belong to %s", a.Index, b.Key)
	}
	err = d.Close()
	d = nil
	if err != nil {
		return wrapErr(err, "demo: close")
	}
	say("")

	// 6. Verify and inspect.
	rep, err := db.Verify(dir, nil)
	if err != nil {
		return openErr(dir, err)
	}
	if err := printVerify(w, rep, dir, false, 0); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		return errFindings
	}
	say("")
	info, err := db.Inspect(dir)
	if err != nil {
		return openErr(dir, err)
	}
	say("dualdb inspect %s:", dir)
	if err := printInspect(w, info, "  "); err != nil {
		return err
	}
	say("")
	say("Next: dualdb scan %s --by index --limit 5, dualdb get %s %s, dualdb verify %s", dir, dir, a.Key, dir)
	return nil
}

// printUsers prints the first n users of seq: id, e-mail and name.
func printUsers(w io.Writer, seq func(func(db.Record) bool), n int, byEmail bool) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if byEmail {
		fmt.Fprintln(tw, "  E-MAIL\tKEY\tNAME")
	} else {
		fmt.Fprintln(tw, "  KEY\tE-MAIL\tNAME")
	}
	i := 0
	for r := range seq {
		if i == n {
			break
		}
		if byEmail {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Index, r.Key, profileName(r.Value))
		} else {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Key, r.Index, profileName(r.Value))
		}
		i++
	}
	_ = tw.Flush() // w's errors show up on the next write
}
