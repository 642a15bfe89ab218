package crashtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Rec is one record as the model holds it: its index key and value.
type Rec struct {
	Index, Value string
}

// Part is the exact state of one writer's partition: the records whose
// keys start with the writer's prefix. Index keys of a partition carry the
// same prefix, so partitions never conflict with each other.
type Part struct {
	ByKey   map[string]Rec
	ByIndex map[string]string // index key -> key
}

// NewPart returns an empty partition.
func NewPart() *Part {
	return &Part{ByKey: map[string]Rec{}, ByIndex: map[string]string{}}
}

// Clone returns a deep copy.
func (p *Part) Clone() *Part {
	return &Part{ByKey: maps.Clone(p.ByKey), ByIndex: maps.Clone(p.ByIndex)}
}

// Len returns the number of records.
func (p *Part) Len() int { return len(p.ByKey) }

// Put applies a put; ok is false (and nothing changes) when index belongs
// to another key.
func (p *Part) Put(key, index, value string) (ok bool) {
	if owner, taken := p.ByIndex[index]; taken && owner != key {
		return false
	}
	if old, had := p.ByKey[key]; had && old.Index != index {
		delete(p.ByIndex, old.Index)
	}
	p.ByKey[key] = Rec{Index: index, Value: value}
	p.ByIndex[index] = key
	return true
}

// PutAll applies puts as one step, as db.Tx.PutAll does: index keys the
// batch's own records give up are free for it. ok is false (and nothing
// changes) when a key is named twice, or when an index key would end up
// owned twice: by a record outside the batch or by two of the batch.
func (p *Part) PutAll(keys []string, recs []Rec) (ok bool) {
	inBatch := map[string]bool{}
	for _, k := range keys {
		if inBatch[k] {
			return false
		}
		inBatch[k] = true
	}
	taken := map[string]bool{}
	for _, r := range recs {
		if taken[r.Index] {
			return false
		}
		taken[r.Index] = true
		if owner, had := p.ByIndex[r.Index]; had && !inBatch[owner] {
			return false
		}
	}
	for _, k := range keys {
		if old, had := p.ByKey[k]; had {
			delete(p.ByIndex, old.Index)
		}
	}
	for i, k := range keys {
		p.ByKey[k] = recs[i]
		p.ByIndex[recs[i].Index] = k
	}
	return true
}

// Delete applies a delete; ok is false when key is absent.
func (p *Part) Delete(key string) (ok bool) {
	old, had := p.ByKey[key]
	if !had {
		return false
	}
	delete(p.ByKey, key)
	delete(p.ByIndex, old.Index)
	return true
}

// Equal reports whether p and q hold the same records.
func (p *Part) Equal(q *Part) bool { return maps.Equal(p.ByKey, q.ByKey) }

// Kinds of operations. Part of the child/parent line protocol.
const (
	KindPut   = 'p' // db.Put of one record: ErrConflict if the index is taken
	KindDel   = 'd' // db.Delete of one key: ErrNotFound if absent
	KindTx    = 'u' // db.Update; a conflicting put or a missing delete inside is skipped and the tx goes on
	KindAbort = 'a' // db.Update whose function returns an error after its steps: nothing applies
)

// Results of operations. Part of the line protocol.
const (
	ResOK       = "ok"
	ResConflict = "conflict"
	ResNotFound = "notfound"
	ResAborted  = "aborted"
	ResUnknown  = "unknown" // an error that leaves the outcome open (a failed WAL write)
)

// Step is one record operation inside an Intent.
type Step struct {
	Del        bool
	Key, Index string
	VSize      int // value size in bytes; the value is Value(writer, seq, step, VSize)
}

// Intent is one operation a writer is about to run.
type Intent struct {
	Writer string
	Seq    uint64
	Kind   byte
	Steps  []Step
}

// Value returns the value step j of operation seq of writer w writes: it
// names the writer, the operation and the step (so a record read back says
// which transaction wrote it), padded to size bytes.
func Value(w string, seq uint64, j, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%d.%d;", w, seq, j)
	const pad = "abcdefghijklmnopqrstuvwxyz0123456789"
	off := int(seq % uint64(len(pad)))
	for b.Len() < size {
		b.WriteByte(pad[off%len(pad)])
		off++
	}
	return b.String()
}

// Apply applies in to p (in place) and returns the result the store must
// report and whether the operation takes a version (changes something).
func (p *Part) Apply(in *Intent) (result string, versioned bool) {
	switch in.Kind {
	case KindAbort:
		return ResAborted, false
	case KindPut:
		s := in.Steps[0]
		if !p.Put(s.Key, s.Index, Value(in.Writer, in.Seq, 0, s.VSize)) {
			return ResConflict, false
		}
		return ResOK, true
	case KindDel:
		if !p.Delete(in.Steps[0].Key) {
			return ResNotFound, false
		}
		return ResOK, true
	case KindTx:
		changed := false
		for j, s := range in.Steps {
			if s.Del {
				changed = p.Delete(s.Key) || changed
			} else {
				changed = p.Put(s.Key, s.Index, Value(in.Writer, in.Seq, j, s.VSize)) || changed
			}
		}
		return ResOK, changed
	}
	panic(fmt.Sprintf("crashtest: unknown kind %q", in.Kind))
}

// Keys returns the keys of p in order.
func (p *Part) Keys() []string { return slices.Sorted(maps.Keys(p.ByKey)) }
