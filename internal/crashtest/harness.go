package crashtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mode says when a cycle kills the child.
type Mode int

const (
	KillRandom     Mode = iota // at a random moment of the run, Open included
	KillOpen                   // while the child opens (and recovers) the store
	KillCheckpoint             // while an explicit checkpoint is being written
	KillFresh                  // a new store, killed during its very first Open
)

func (m Mode) String() string {
	return [...]string{"random", "open", "checkpoint", "fresh"}[m]
}

// Totals are the running figures of a Harness.
type Totals struct {
	Cycles            int // cycles run
	Stores            int // stores created
	Acked             int // operations acknowledged (returned nil)
	Commits           int // acknowledged operations that took a version
	Refused           int // operations that returned a definite error (conflict, not found, aborted)
	Unknown           int // operations that returned an error with an open outcome (failed closed)
	InFlightApplied   int // operations in flight at the cut found wholly applied
	InFlightDropped   int // operations in flight at the cut found not applied
	Lost              int // acknowledged commits missing after the cut
	Partial           int // transactions found partly applied
	WrongResults      int // results that differ from the model's
	Invariant         int // invariant and Verify findings
	VersionMismatch   int // reopened versions that differ from the number of commits
	RecordVersions    int // recovered records whose Version is not the one their acknowledged commit reported
	VersionsChecked   int // recovered records whose Version was checked against their acknowledged commit
	ChildOpenFailures int // a child could not open the store
	Unopenable        int // a store that did not open after the cut
	KillsInOpen       int // cuts that hit Open (and recovery)
	KillsInFirstOpen  int // of those, cuts in the very first Open of a new store
	KillsInCheckpoint int // cuts that hit an explicit checkpoint
	KillsWhileWriting int // other cuts
	CheckpointErrors  int // explicit checkpoints that returned an error
	Checkpoints       int // explicit checkpoints that completed
	ReadWriteChecks   int // read-write reopens by the parent
	Races             int // children in which the race detector fired
}

// Findings returns the number of defects counted in t.
func (t Totals) Findings() int {
	return t.Lost + t.Partial + t.WrongResults + t.Invariant + t.VersionMismatch + t.RecordVersions + t.ChildOpenFailures + t.Unopenable + t.Races
}

func (t Totals) String() string {
	return fmt.Sprintf("cycles=%d stores=%d acked=%d commits=%d refused=%d unknown=%d in-flight applied=%d dropped=%d "+
		"lost=%d partial=%d wrong-results=%d invariant=%d version-mismatch=%d record-versions=%d (of %d checked) child-open-failures=%d unopenable=%d "+
		"kills: open=%d (first open %d) checkpoint=%d writing=%d; checkpoints=%d (errors %d) read-write-checks=%d",
		t.Cycles, t.Stores, t.Acked, t.Commits, t.Refused, t.Unknown, t.InFlightApplied, t.InFlightDropped,
		t.Lost, t.Partial, t.WrongResults, t.Invariant, t.VersionMismatch, t.RecordVersions, t.VersionsChecked, t.ChildOpenFailures, t.Unopenable,
		t.KillsInOpen, t.KillsInFirstOpen, t.KillsInCheckpoint, t.KillsWhileWriting, t.Checkpoints, t.CheckpointErrors, t.ReadWriteChecks)
}

// Harness runs crash cycles against stores under Base.
type Harness struct {
	Base    string               // directory that holds the stores (store-NNN)
	Cfg     Config               // the child's workload; Dir, Cycle and Seed are set per cycle
	Command func() *exec.Cmd     // returns the child command; the harness adds ChildEnv and stdio
	Rand    *rand.Rand           // kill moments and seeds; nil: seeded from the clock
	MaxKill time.Duration        // latest random kill, after the child starts; default 500ms
	Logf    func(string, ...any) // progress and findings; nil: silent
	Cut     func() error         // called just before SIGKILL (power loss: shut the file system down)
	Restore func() error         // called after the child is dead (power loss: remount)
	RWEvery int                  // a read-write reopen by the parent every RWEvery cycles; default 4, <0: never
	KeepDir string               // if set, a store with findings is copied there (cycle-N) for a repro
	Vary    bool                 // vary KeepSnapshots and CheckpointEvery from cycle to cycle
	Totals  Totals

	dir                        string
	parts                      map[string]*Part   // writer -> exact state after every acknowledged operation
	pending                    map[string]*Intent // writer -> operation in flight (intent seen, no definite result)
	keyVersions                map[string]uint64  // key -> version of the acknowledged commit that last put it, where reported
	version                    uint64             // versions taken by the commits known to be applied
	opened                     bool               // an Open of this store returned: its creation is acknowledged
	cycle                      int
	openEst, freshEst, ckptEst time.Duration
}

// Dir returns the current store's directory ("" before the first cycle).
func (h *Harness) Dir() string { return h.dir }

func (h *Harness) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
	}
}

func (h *Harness) part(w string) *Part {
	p := h.parts[w]
	if p == nil {
		p = NewPart()
		h.parts[w] = p
	}
	return p
}

func (h *Harness) newStore() error {
	h.Totals.Stores++
	h.dir = filepath.Join(h.Base, fmt.Sprintf("store-%03d", h.Totals.Stores))
	if err := os.RemoveAll(h.dir); err != nil {
		return err
	}
	h.parts = map[string]*Part{}
	h.pending = map[string]*Intent{}
	h.keyVersions = map[string]uint64{}
	h.version = 0
	h.opened = false
	return nil
}

func uniform(r *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(d) + 1))
}

func ewma(old, sample time.Duration) time.Duration {
	if old == 0 {
		return sample
	}
	return (old*3 + sample) / 4
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu   sync.Mutex
	buf  []byte
	race bool // the race detector reported (the report may be past the tail)
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if bytes.Contains(t.buf, []byte("WARNING: DATA RACE")) {
		t.race = true
	}
	if len(t.buf) > 16<<10 {
		t.buf = t.buf[len(t.buf)-16<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) sawRace() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.race
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

type lineOrErr struct {
	ev  Event
	err error
}

// Cycle runs one cycle: start a child, cut it as mode says, check the
// store. It returns the defects found; err is for a failure of the
// harness itself.
func (h *Harness) Cycle(mode Mode) (findings []string, err error) {
	if h.Rand == nil {
		h.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	}
	if h.MaxKill == 0 {
		h.MaxKill = 500 * time.Millisecond
	}
	if h.RWEvery == 0 {
		h.RWEvery = 4
	}
	if h.openEst == 0 {
		h.openEst, h.freshEst, h.ckptEst = 50*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond
	}
	if mode == KillFresh || h.dir == "" {
		if err := h.newStore(); err != nil {
			return nil, err
		}
	}
	h.cycle++
	h.Totals.Cycles++
	cfg := h.Cfg
	cfg.Dir, cfg.Cycle, cfg.Seed = h.dir, h.cycle, h.Rand.Uint64()
	if h.Vary {
		cfg.KeepSnapshots = []int{0, 1, 2, 3}[h.Rand.IntN(4)]
		cfg.CheckpointEvery = []int{8, 32, 64, 200}[h.Rand.IntN(4)]
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := h.Command()
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(js))
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("crashtest: start child: %w", err)
	}
	events := make(chan lineOrErr, 1024)
	go readEvents(out, events)

	add := func(format string, args ...any) {
		f := fmt.Sprintf("cycle %d (%s, %s): ", h.cycle, mode, filepath.Base(h.dir)) + fmt.Sprintf(format, args...)
		findings = append(findings, f)
		h.logf("FINDING %s", f)
	}

	var timer <-chan time.Time
	arm := func(d time.Duration) {
		if timer == nil {
			timer = time.After(d)
		}
	}
	if mode == KillRandom {
		arm(uniform(h.Rand, h.MaxKill))
	}
	safety := time.After(cfg.WithDefaults().MaxRun + 30*time.Second)
	sawS, sawO, killed := false, false, false
	ckptOpen := 0 // explicit checkpoint in progress (its number), 0 if none
	freshStore := !h.opened && h.version == 0
	kill := func() {
		if killed {
			return
		}
		killed = true
		switch {
		case !sawO:
			h.Totals.KillsInOpen++
			if freshStore {
				h.Totals.KillsInFirstOpen++
			}
		case ckptOpen != 0:
			h.Totals.KillsInCheckpoint++
		default:
			h.Totals.KillsWhileWriting++
		}
		if h.Cut != nil {
			if err := h.Cut(); err != nil {
				add("cut: %v", err)
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
loop:
	for {
		select {
		case le, ok := <-events:
			if !ok {
				break loop
			}
			if le.err != nil {
				add("protocol: %v", le.err)
				continue
			}
			ev := le.ev
			switch ev.Type {
			case 'S':
				sawS = true
				switch mode {
				case KillOpen:
					arm(uniform(h.Rand, h.openEst*13/10))
				case KillFresh:
					arm(uniform(h.Rand, h.freshEst))
				}
			case 'O':
				sawO = true
				d := time.Duration(ev.Nanos)
				if freshStore {
					h.freshEst = ewma(h.freshEst, d)
				} else {
					h.openEst = ewma(h.openEst, d)
				}
				if mode == KillOpen || mode == KillFresh {
					// Missed Open: cut soon after instead.
					arm(uniform(h.Rand, 50*time.Millisecond))
				}
			case 'C':
				if ev.Begin {
					ckptOpen = ev.N
					if mode == KillCheckpoint {
						arm(uniform(h.Rand, h.ckptEst*13/10))
					}
				} else {
					ckptOpen = 0
					h.ckptEst = ewma(h.ckptEst, time.Duration(ev.Nanos))
					if ev.Msg != "" {
						h.Totals.CheckpointErrors++
						if h.Cut == nil && !killed {
							add("explicit checkpoint %d failed: %s", ev.N, ev.Msg)
						}
					} else {
						h.Totals.Checkpoints++
					}
				}
			}
			h.apply(ev, add, killed)
		case <-timer:
			kill()
		case <-safety:
			add("the child neither reached its cut nor stopped (started: %v, opened: %v)", sawS, sawO)
			kill()
		}
	}
	waitErr := cmd.Wait()
	if !killed {
		// The child stopped by itself: a fatal error, or MaxRun passed.
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.ExitStatus() != 0 {
			add("child exited by itself: %v; stderr:\n%s", waitErr, stderr.String())
		}
	}
	if h.Restore != nil {
		if err := h.Restore(); err != nil {
			return findings, fmt.Errorf("crashtest: restore after the cut: %w", err)
		}
	}
	if stderr.sawRace() {
		h.Totals.Races++
		add("the race detector fired in the child:\n%s", stderr.String())
	}
	dir := h.dir
	h.check(add)
	if len(findings) > 0 && h.KeepDir != "" {
		dst := filepath.Join(h.KeepDir, fmt.Sprintf("%s-cycle-%d-%d", filepath.Base(dir), h.cycle, time.Now().UnixNano()))
		if err := os.MkdirAll(h.KeepDir, 0o700); err == nil {
			if out, err := exec.Command("cp", "-a", dir, dst).CombinedOutput(); err != nil {
				h.logf("keep %s: %v: %s", dst, err, out)
			} else {
				h.logf("store kept in %s", dst)
			}
		}
	}
	if len(findings) > 0 && strings.TrimSpace(stderr.String()) != "" {
		h.logf("child stderr (tail):\n%s", stderr.String())
	}
	return findings, nil
}

func readEvents(r io.Reader, out chan<- lineOrErr) {
	defer close(out)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			// A line without its newline was cut by the kill: its event
			// did not happen (the write had not returned).
			return
		}
		ev, perr := ParseLine(strings.TrimSuffix(line, "\n"))
		out <- lineOrErr{ev: ev, err: perr}
	}
}

// apply feeds one event to the model.
func (h *Harness) apply(ev Event, add func(string, ...any), killed bool) {
	switch ev.Type {
	case 'O':
		h.opened = true
		if ev.Version != h.version {
			h.Totals.VersionMismatch++
			add("the child's Open recovered version %d; the commits known to be applied are %d", ev.Version, h.version)
			h.version = ev.Version
		}
	case 'I':
		if p := h.pending[ev.Writer]; p != nil {
			add("protocol: writer %s started %d while %d is in flight", ev.Writer, ev.Seq, p.Seq)
		}
		h.pending[ev.Writer] = ev.Intent
	case 'A', 'F':
		in := h.pending[ev.Writer]
		if in == nil || in.Seq != ev.Seq {
			add("protocol: result for %s %d, which is not in flight", ev.Writer, ev.Seq)
			return
		}
		if ev.Type == 'F' && ev.Result == ResUnknown {
			// Outcome open: stays in flight, decided by the check.
			h.Totals.Unknown++
			return
		}
		delete(h.pending, ev.Writer)
		p := h.part(ev.Writer)
		if ev.Type == 'A' {
			res, versioned := p.Apply(in)
			h.noteVersions(p, in, ev.Version)
			h.Totals.Acked++
			if versioned {
				h.Totals.Commits++
				h.version++
			}
			if res != ResOK {
				h.Totals.WrongResults++
				add("%s %d (%s) returned nil; the model says %s", ev.Writer, ev.Seq, FormatIntent(in, nil), res)
			}
			return
		}
		h.Totals.Refused++
		pred, _ := p.Clone().Apply(in)
		if pred != ev.Result {
			h.Totals.WrongResults++
			add("%s %d (%s) returned %s (%s); the model says %s", ev.Writer, ev.Seq, FormatIntent(in, nil), ev.Result, ev.Msg, pred)
		}
	case 'V':
		h.Totals.Invariant++
		add("the child's online check: %s", ev.Msg)
	case 'X':
		if killed && h.Cut != nil {
			return // the file system was cut under the child
		}
		h.Totals.ChildOpenFailures++
		add("the child failed: %s", ev.Msg)
	}
}

// noteVersions records, for each key in touched, the version of its
// acknowledged commit (version, 0 if the child did not report it): p is
// the partition with in applied. A key in left untouched keeps its
// version, a key it deleted has none.
func (h *Harness) noteVersions(p *Part, in *Intent, version uint64) {
	wrote := fmt.Sprintf("%s.%d", in.Writer, in.Seq)
	for _, s := range in.Steps {
		r, ok := p.ByKey[s.Key]
		switch {
		case !ok:
			delete(h.keyVersions, s.Key)
		case seqOf(r.Value) == wrote:
			if version == 0 {
				delete(h.keyVersions, s.Key) // written, version not reported
			} else {
				h.keyVersions[s.Key] = version
			}
		}
	}
}

// checkVersions compares the Record.Version of every recovered record that
// is still as its acknowledged commit wrote it with that commit's version.
// Keys the operations in flight touch are forgotten: whether those applied
// is decided by the records, and their versions were never reported.
func (h *Harness) checkVersions(st *StoreState, add func(string, ...any)) {
	for k, want := range h.keyVersions {
		r, ok := st.Records[k]
		w, _, _ := strings.Cut(k, "/")
		if !ok || h.part(w).ByKey[k] != r {
			continue // lost or changed: reported by the record checks
		}
		h.Totals.VersionsChecked++
		if got := st.Versions[k]; got != want {
			h.Totals.RecordVersions++
			add("record %q: Record.Version %d after recovery; its acknowledged commit had version %d", k, got, want)
		}
	}
	for _, in := range h.pending {
		for _, s := range in.Steps {
			delete(h.keyVersions, s.Key)
		}
	}
}

// check reads the store after a cut and compares it with the model.
func (h *Harness) check(add func(string, ...any)) {
	st := h.readStore("ro")
	if !st.Exists {
		if !h.opened && h.version == 0 {
			// Never acknowledged: a store cut during its first Open may be
			// absent or not yet initialized; the next Open must create it.
			h.logf("cycle %d: store not created yet (%v)", h.cycle, st.OpenErr)
			h.pending = map[string]*Intent{}
			return
		}
		h.Totals.Unopenable++
		add("the store does not open after the cut: %v", st.OpenErr)
		if st.Panicked {
			// Never reopen it read-write in this process: bbolt may panic
			// in a goroutine of its own, which no recover catches.
			h.logf("cycle %d: the store panicked on Open; starting a new store", h.cycle)
		}
		h.dir = "" // go on with a new store
		return
	}
	for _, f := range st.Findings {
		h.Totals.Invariant++
		add("%s", f)
	}
	got := map[string]*Part{}
	for k, r := range st.Records {
		w, _, ok := strings.Cut(k, "/")
		if !ok {
			h.Totals.Invariant++
			add("record %q belongs to no writer", k)
			continue
		}
		p := got[w]
		if p == nil {
			p = NewPart()
			got[w] = p
		}
		p.ByKey[k] = r
		p.ByIndex[r.Index] = k
	}
	h.checkVersions(st, add)
	writers := slices.Sorted(maps.Keys(h.parts))
	for w := range got {
		if h.parts[w] == nil {
			writers = append(writers, w)
		}
	}
	for w := range h.pending {
		if h.parts[w] == nil && got[w] == nil {
			writers = append(writers, w)
		}
	}
	slices.Sort(writers)
	writers = slices.Compact(writers)
	ambiguous := 0 // in-flight operations that take a version but change nothing in the end
	for _, w := range writers {
		want, have := h.part(w), got[w]
		if have == nil {
			have = NewPart()
		}
		in := h.pending[w]
		if have.Equal(want) {
			if in != nil {
				alt := want.Clone()
				if _, versioned := alt.Apply(in); versioned && alt.Equal(want) {
					// E.g. put k then delete k in one transaction: applied
					// or not, the records are the same; the version says.
					ambiguous++
				} else {
					h.Totals.InFlightDropped++
				}
			}
			continue
		}
		var alt *Part
		if in != nil {
			alt = want.Clone()
			_, versioned := alt.Apply(in)
			if have.Equal(alt) {
				h.Totals.InFlightApplied++
				h.parts[w] = alt
				if versioned {
					h.version++
				}
				continue
			}
		}
		h.diff(w, want, alt, have, in, add)
		h.parts[w] = have
		for k := range h.keyVersions {
			if strings.HasPrefix(k, w+"/") {
				delete(h.keyVersions, k) // the model starts again from what the store holds
			}
		}
	}
	h.pending = map[string]*Intent{}
	if st.Version >= h.version && st.Version <= h.version+uint64(ambiguous) {
		h.Totals.InFlightApplied += int(st.Version - h.version)
		h.Totals.InFlightDropped += ambiguous - int(st.Version-h.version)
		h.version = st.Version
	}
	if st.Version != h.version {
		h.Totals.VersionMismatch++
		add("store at version %d; the commits known to be applied take %d", st.Version, h.version)
		h.version = st.Version
	}
	if h.RWEvery > 0 && h.cycle%h.RWEvery == 0 && !st.Panicked {
		h.readWriteCheck(st, add)
	}
}

// diff reports how have differs from want (the acknowledged state) and
// alt (want plus the operation in flight, nil if none).
func (h *Harness) diff(w string, want, alt, have *Part, in *Intent, add func(string, ...any)) {
	lostSeqs := map[string]bool{}
	var lost, extra []string
	keys := map[string]bool{}
	for k := range want.ByKey {
		keys[k] = true
	}
	for k := range have.ByKey {
		keys[k] = true
	}
	touched := map[string]bool{}
	if in != nil {
		for _, s := range in.Steps {
			touched[s.Key] = true
		}
	}
	applied, notApplied := 0, 0
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		wr, wok := want.ByKey[k]
		hr, hok := have.ByKey[k]
		var ar Rec
		aok := false
		if alt != nil {
			ar, aok = alt.ByKey[k]
		}
		sameWant := wok == hok && wr == hr
		sameAlt := alt != nil && aok == hok && ar == hr
		if alt != nil && touched[k] && (wok != aok || wr != ar) {
			if sameAlt {
				applied++
			} else if sameWant {
				notApplied++
			}
		}
		if sameWant || sameAlt {
			continue
		}
		switch {
		case wok && !hok:
			lost = append(lost, fmt.Sprintf("%s (acked index %q value %.24q..., now absent)", k, wr.Index, wr.Value))
			lostSeqs[seqOf(wr.Value)] = true
		case wok && hok:
			lost = append(lost, fmt.Sprintf("%s (acked index %q value %.24q..., found index %q value %.24q...)", k, wr.Index, wr.Value, hr.Index, hr.Value))
			lostSeqs[seqOf(wr.Value)] = true
		default:
			extra = append(extra, fmt.Sprintf("%s (acked absent, found index %q value %.24q...)", k, hr.Index, hr.Value))
			lostSeqs["delete of "+k] = true
		}
	}
	if applied > 0 && notApplied > 0 {
		h.Totals.Partial++
		add("writer %s: transaction %d (%s) partly applied: %d records as it wrote them, %d as before",
			w, in.Seq, FormatIntent(in, nil), applied, notApplied)
	}
	if len(lost)+len(extra) > 0 {
		h.Totals.Lost += len(lostSeqs)
		add("writer %s: %d acknowledged commits lost: %s", w, len(lostSeqs), strings.Join(append(lost, extra...), "; "))
	}
}

// seqOf returns the "writer.seq" that wrote value (see Value).
func seqOf(value string) string {
	if i := strings.LastIndexByte(value, '.'); i > 0 {
		if j := strings.IndexByte(value, ';'); j > i {
			return value[:i]
		}
	}
	if len(value) > 24 {
		return value[:24]
	}
	return value
}

// readStore checks the store in a checker process (mode "ro" or "rw").
func (h *Harness) readStore(mode string) *StoreState {
	return CheckStore(h.Command(), h.dir, mode)
}

// CheckStore runs cmd (a binary that calls RunChildFromEnv first) as a
// checker of the store in dir: mode "ro" is ReadStore, "rw" ReadStoreRW.
// A checker that dies (a panic in a goroutine, which nothing recovers)
// gives a StoreState with Panicked set and its stderr in OpenErr.
func CheckStore(cmd *exec.Cmd, dir, mode string) *StoreState {
	cfg := Config{Dir: dir, Check: mode}
	js, err := json.Marshal(cfg)
	if err != nil {
		return &StoreState{OpenErr: err.Error()}
	}
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(js))
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	st := &StoreState{}
	if err != nil || json.Unmarshal(out, st) != nil {
		return &StoreState{Panicked: true, OpenErr: fmt.Sprintf("the checker process (%s open) died: %v; stderr:\n%s", mode, err, stderr.String())}
	}
	if st.Records == nil {
		st.Records = map[string]Rec{}
	}
	if st.Versions == nil {
		st.Versions = map[string]uint64{}
	}
	return st
}

// readWriteCheck opens the store read-write, as a restarted program would,
// and checks that recovery gives the state the read-only open saw and
// leaves no temporary file behind.
func (h *Harness) readWriteCheck(ro *StoreState, add func(string, ...any)) {
	h.Totals.ReadWriteChecks++
	st := h.readStore("rw")
	if !st.Exists {
		h.Totals.Unopenable++
		add("read-write reopen: %s", st.OpenErr)
		return
	}
	for _, f := range st.Findings {
		h.Totals.Invariant++
		add("read-write reopen: %s", f)
	}
	if st.Version != ro.Version || len(st.Records) != len(ro.Records) {
		h.Totals.VersionMismatch++
		add("read-write reopen: version %d with %d records; the read-only open saw %d with %d",
			st.Version, len(st.Records), ro.Version, len(ro.Records))
	}
	for k, r := range st.Records {
		if want, ok := ro.Records[k]; !ok || want != r || st.Versions[k] != ro.Versions[k] {
			h.Totals.Invariant++
			add("read-write reopen: record %q differs from the read-only open's", k)
			break
		}
	}
}

// Schedule returns the kill mode of cycle i (from 0) in the standard mix:
// every 10th cycle starts a new store and cuts its very first Open; of
// the others, a fifth are cut in Open, a fifth in an explicit checkpoint
// and the rest at a random moment.
func Schedule(i int) Mode {
	switch {
	case i%10 == 0:
		return KillFresh
	case i%5 == 1:
		return KillOpen
	case i%5 == 3:
		return KillCheckpoint
	}
	return KillRandom
}
