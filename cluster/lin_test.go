package cluster_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/dualdb/dualdb/cluster"
	"github.com/dualdb/dualdb/internal/crashtest"
)

// A linearizability check of the HTTP API across leader kills: clients
// put, delete, run transactions and read (linearizable) through random
// nodes; the history is checked with porcupine against the reliability
// suite's model of the dual index (crashtest.Part). Keys and index keys
// are split into groups no operation crosses, each checked on its own.

const (
	linKeys    = 3
	linIndexes = 3
)

func linKey(g, i int) string   { return fmt.Sprintf("g%d/k%d", g, i) }
func linIndex(g, j int) string { return fmt.Sprintf("g%d/x%d", g, j) }

type linStep struct {
	Del  bool
	K, X int
	V    string
}

// linIn: 'p' put, 'd' delete, 't' transaction (all or nothing), 'g' get,
// 'i' get by index, in group G.
type linIn struct {
	Op    byte
	G     int
	K, X  int
	V     string
	Steps []linStep
}

// linOut: Res is "ok", "refused" (a put's conflict, a delete's or a
// transaction's refusal) or "notfound" (reads, deletes); reads carry the
// record. Unknown: the outcome is open.
type linOut struct {
	Unknown bool
	Res     string
	Key     string
	Index   string
	Value   string
}

func applyStep(p *crashtest.Part, g int, s linStep) bool {
	if s.Del {
		return p.Delete(linKey(g, s.K))
	}
	return p.Put(linKey(g, s.K), linIndex(g, s.X), s.V)
}

// linApply applies in to a copy of p and returns it with the output the
// API must give.
func linApply(p *crashtest.Part, in linIn) (*crashtest.Part, linOut) {
	switch in.Op {
	case 'p', 'd':
		q := p.Clone()
		if !applyStep(q, in.G, linStep{Del: in.Op == 'd', K: in.K, X: in.X, V: in.V}) {
			if in.Op == 'd' {
				return p, linOut{Res: "notfound"}
			}
			return p, linOut{Res: "refused"}
		}
		return q, linOut{Res: "ok"}
	case 't':
		// In order, all or nothing; a run of consecutive puts is one
		// PutAll, as the FSM applies it.
		q := p.Clone()
		for i := 0; i < len(in.Steps); {
			s := in.Steps[i]
			if s.Del {
				if !applyStep(q, in.G, s) {
					return p, linOut{Res: "refused"}
				}
				i++
				continue
			}
			var keys []string
			var recs []crashtest.Rec
			for ; i < len(in.Steps) && !in.Steps[i].Del; i++ {
				keys = append(keys, linKey(in.G, in.Steps[i].K))
				recs = append(recs, crashtest.Rec{Index: linIndex(in.G, in.Steps[i].X), Value: in.Steps[i].V})
			}
			if !q.PutAll(keys, recs) {
				return p, linOut{Res: "refused"}
			}
		}
		return q, linOut{Res: "ok"}
	case 'g':
		k := linKey(in.G, in.K)
		r, ok := p.ByKey[k]
		if !ok {
			return p, linOut{Res: "notfound"}
		}
		return p, linOut{Res: "ok", Key: k, Index: r.Index, Value: r.Value}
	default:
		x := linIndex(in.G, in.X)
		k, ok := p.ByIndex[x]
		if !ok {
			return p, linOut{Res: "notfound"}
		}
		return p, linOut{Res: "ok", Key: k, Index: x, Value: p.ByKey[k].Value}
	}
}

var linModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		groups := map[int][]porcupine.Operation{}
		for _, op := range h {
			g := op.Input.(linIn).G
			groups[g] = append(groups[g], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range groups {
			out = append(out, ops)
		}
		return out
	},
	Init: func() []any { return []any{crashtest.NewPart()} },
	Step: func(state, input, output any) []any {
		p, in, out := state.(*crashtest.Part), input.(linIn), output.(linOut)
		np, want := linApply(p, in)
		if out.Unknown {
			if np == p {
				return []any{p}
			}
			return []any{p, np}
		}
		if want != out {
			return nil
		}
		return []any{np}
	},
	Equal: func(a, b any) bool { return a.(*crashtest.Part).Equal(b.(*crashtest.Part)) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(linIn), output.(linOut)
		res := out.Res
		if out.Unknown {
			res = "?"
		}
		switch in.Op {
		case 'p':
			return fmt.Sprintf("put(k%d, x%d, %s) -> %s", in.K, in.X, in.V, res)
		case 'd':
			return fmt.Sprintf("del(k%d) -> %s", in.K, res)
		case 't':
			return fmt.Sprintf("txn(%v) -> %s", in.Steps, res)
		case 'g':
			return fmt.Sprintf("get(k%d) -> %s %s %s", in.K, res, out.Index, out.Value)
		default:
			return fmt.Sprintf("getByIndex(x%d) -> %s %s %s", in.X, res, out.Key, out.Value)
		}
	},
}

// do runs in through node addr. done false: the operation certainly had
// no effect (a refused connection, 503, a failed read) and is left out of
// the history; out.Unknown: it may or may not have been applied.
func linDo(c *cluster.Client, addr string, in linIn) (out linOut, done bool) {
	ctx, cancel := context.WithTimeout(bg, 15*time.Second)
	defer cancel()
	var (
		r   cluster.Response
		err error
	)
	switch in.Op {
	case 'p':
		r, err = c.Put(ctx, addr, linKey(in.G, in.K), linIndex(in.G, in.X), in.V)
	case 'd':
		r, err = c.Delete(ctx, addr, linKey(in.G, in.K))
	case 't':
		var ops []cluster.Op
		for _, s := range in.Steps {
			if s.Del {
				ops = append(ops, cluster.Op{Op: "delete", Key: linKey(in.G, s.K)})
			} else {
				ops = append(ops, cluster.Op{Op: "put", Key: linKey(in.G, s.K), Index: linIndex(in.G, s.X), Value: s.V})
			}
		}
		r, err = c.Txn(ctx, addr, ops)
	case 'g':
		r, err = c.Get(ctx, addr, linKey(in.G, in.K), "linearizable")
	default:
		r, err = c.GetByIndex(ctx, addr, linIndex(in.G, in.X), "linearizable")
	}
	if in.Op == 'g' || in.Op == 'i' {
		switch {
		case err != nil:
			return out, false
		case r.Code == http.StatusOK:
			return linOut{Res: "ok", Key: r.Key, Index: r.Index, Value: r.Value}, true
		case r.Code == http.StatusNotFound:
			return linOut{Res: "notfound"}, true
		}
		return out, false
	}
	switch classify(r, err) {
	case outAcked:
		return linOut{Res: "ok"}, true
	case outRefused:
		if r.Code == http.StatusNotFound && in.Op == 'd' {
			return linOut{Res: "notfound"}, true
		}
		return linOut{Res: "refused"}, true
	case outNotDone:
		return out, false
	}
	return linOut{Unknown: true}, true
}

func linGen(r *rand.Rand, groups int, tag string) linIn {
	in := linIn{G: r.IntN(groups), K: r.IntN(linKeys), X: r.IntN(linIndexes), V: tag}
	switch p := r.IntN(100); {
	case p < 30:
		in.Op = 'p'
	case p < 40:
		in.Op, in.V = 'd', ""
	case p < 50:
		in.Op, in.V = 't', ""
		for i := range 2 {
			s := linStep{Del: r.IntN(4) == 0, K: r.IntN(linKeys), X: r.IntN(linIndexes)}
			if i == 1 && !s.Del && !in.Steps[0].Del && s.K == in.Steps[0].K {
				s.K = (s.K + 1) % linKeys // a run of puts names each key once (else 400, before the log)
			}
			if !s.Del {
				s.V = fmt.Sprintf("%s.%d", tag, i)
			}
			in.Steps = append(in.Steps, s)
		}
	case p < 80:
		in.Op, in.V = 'g', ""
	default:
		in.Op, in.V = 'i', ""
	}
	return in
}

type linHistory struct {
	clock atomic.Int64
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *linHistory) add(client int, in linIn, call int64, out linOut) {
	ret := h.clock.Add(1)
	if out.Unknown {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

func checkLin(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(linModel.ToModel(), ops, 120*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		path := filepath.Join(os.TempDir(), fmt.Sprintf("dualdb-cluster-lin-%d.html", time.Now().UnixNano()))
		_ = porcupine.VisualizePath(linModel.ToModel(), info, path)
		t.Errorf("history of %d operations is not linearizable; visualization: %s", len(ops), path)
	default:
		t.Logf("porcupine timed out on %d operations (inconclusive)", len(ops))
	}
}

func TestLinModel_CatchesStaleRead(t *testing.T) {
	put := linIn{Op: 'p', G: 0, K: 0, X: 1, V: "a"}
	get := linIn{Op: 'g', G: 0, K: 0}
	ops := []porcupine.Operation{
		{ClientId: 0, Input: put, Call: 1, Output: linOut{Res: "ok"}, Return: 2},
		// A read that starts after the put returned and misses it.
		{ClientId: 1, Input: get, Call: 3, Output: linOut{Res: "notfound"}, Return: 4},
	}
	if porcupine.CheckOperations(linModel.ToModel(), ops) {
		t.Fatal("the model accepts a read that misses an acknowledged write")
	}
	// The same read overlapping the put is fine.
	ops[1].Call = 1
	if !porcupine.CheckOperations(linModel.ToModel(), ops) {
		t.Fatal("the model refuses a concurrent read")
	}
	// A refused transaction must leave nothing behind.
	txn := linIn{Op: 't', G: 0, Steps: []linStep{{K: 1, X: 2, V: "b"}, {K: 2, X: 1, V: "c"}}} // x1 owned by k0
	ops = []porcupine.Operation{
		{ClientId: 0, Input: put, Call: 1, Output: linOut{Res: "ok"}, Return: 2},
		{ClientId: 0, Input: txn, Call: 3, Output: linOut{Res: "refused"}, Return: 4},
		{ClientId: 1, Input: linIn{Op: 'g', G: 0, K: 1}, Call: 5, Output: linOut{Res: "ok", Key: "g0/k1", Index: "g0/x2", Value: "b"}, Return: 6},
	}
	if porcupine.CheckOperations(linModel.ToModel(), ops) {
		t.Fatal("the model accepts part of a refused transaction")
	}
}

// TestProcess_LinearizableAcrossLeaderKills checks a history taken
// through the HTTP API of three dualdbd processes while the leader is
// killed with SIGKILL and restarted.
func TestProcess_LinearizableAcrossLeaderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	pc := newProcCluster(t, 3)
	kills, clients, opsPerPhase, groups := 1, 4, 60, 4
	if longTier() {
		kills, clients, opsPerPhase, groups = 8, 8, 200, 8
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	h := &linHistory{}
	phase := func(name string) {
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(c)<<32|uint64(len(name))))
				for n := range opsPerPhase {
					in := linGen(r, groups, fmt.Sprintf("%s.c%d.%d", name, c, n))
					addr := pc.nodes[r.IntN(len(pc.nodes))].httpAddr
					call := h.clock.Add(1)
					out, done := linDo(&pc.c, addr, in)
					if done {
						h.add(c, in, call, out)
					} else {
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
	}
	phase("warm")
	for k := range kills {
		l := pc.leader()
		if l == nil {
			l = pc.waitLeader(pc.running())
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			phase(fmt.Sprintf("kill%d", k))
		}()
		time.Sleep(100 * time.Millisecond) // let the phase get going; not an assertion
		pc.kill9(l)
		<-done
		pc.start(l)
		phase(fmt.Sprintf("after%d", k))
	}
	pc.waitConverged(120 * time.Second)
	unknown := 0
	for _, op := range h.ops {
		if op.Output.(linOut).Unknown {
			unknown++
		}
	}
	t.Logf("%d operations (%d with unknown outcome), %d leader kills", len(h.ops), unknown, kills)
	checkLin(t, h.ops)
}
