package main

import (
	"math"
	"slices"
	"time"
)

// Metric is one row of the report.
type Metric struct {
	ID       string `json:"id"`
	Workload string `json:"workload"` // W1..W8, W3J: the -workloads name that produces it
	Title    string `json:"title"`
	Unit     string `json:"unit"`
	Higher   bool   `json:"higher_is_better"`
	// LikeOnly: the ratio compares dualdb only with peers that ran the row
	// with the same durability (the first letter of the tag); true for rows
	// whose cost is the durability (writes, load, disk, reopen).
	LikeOnly bool `json:"like_only"`
	// Limit names the physical limit shown beside the row, if any.
	Limit string `json:"limit,omitempty"`
	// HeapOnly: the figure counts the Go heap only, so engines that keep
	// their data off the heap (Engine.OffHeap) are left out of the ratio.
	HeapOnly bool `json:"heap_only,omitempty"`
}

// metrics lists every row in report order.
var metrics = []Metric{
	{ID: "w1.commits", Workload: "W1", Title: "W1 serial commits, 1 rec", Unit: "commits/s", Higher: true, LikeOnly: true, Limit: "fsync4k"},
	{ID: "w2.commits", Workload: "W2", Title: "W2 commits, 64 writers", Unit: "commits/s", Higher: true, LikeOnly: true},
	{ID: "w3.load", Workload: "W3", Title: "W3 bulk load, batch 1000", Unit: "rec/s", Higher: true, LikeOnly: true},
	{ID: "w3.disk", Workload: "W3", Title: "W3 on disk after load", Unit: "B/rec", LikeOnly: true, Limit: "raw.fixed"},
	{ID: "w3.heap", Workload: "W3", Title: "W3 Go heap after load", Unit: "B/rec", Limit: "raw.fixed", HeapOnly: true},
	{ID: "w3.rss", Workload: "W3", Title: "W3 RSS growth after load", Unit: "B/rec", Limit: "raw.fixed"},
	{ID: "w4.get", Workload: "W4", Title: "W4 get by key, 2 goroutines", Unit: "ns/op"},
	{ID: "w5.getidx", Workload: "W5", Title: "W5 get by index -> record", Unit: "ns/op"},
	{ID: "w6.scankey", Workload: "W6", Title: "W6 full scan by key", Unit: "items/s", Higher: true, Limit: "slicescan"},
	{ID: "w6.scanidx", Workload: "W6", Title: "W6 full scan by index", Unit: "items/s", Higher: true, Limit: "slicescan"},
	{ID: "w7.reopen", Workload: "W7", Title: "W7 close+reopen+first read", Unit: "s", LikeOnly: true},
	{ID: "w8.reads", Workload: "W8", Title: "W8 mixed: reads (2 readers)", Unit: "reads/s", Higher: true},
	{ID: "w8.writes", Workload: "W8", Title: "W8 mixed: index moves (1 wr)", Unit: "writes/s", Higher: true, LikeOnly: true},
	{ID: "w3j.load", Workload: "W3J", Title: "W3J JSON load, no fsync", Unit: "rec/s", Higher: true, LikeOnly: true},
	{ID: "w3j.disk", Workload: "W3J", Title: "W3J JSON on disk", Unit: "B/rec", LikeOnly: true, Limit: "raw.json"},
}

// allWorkloads are the -workloads names, in run order.
var allWorkloads = []string{"W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W3J"}

// Cell is one engine's value on one row.
type Cell struct {
	Value float64 `json:"value"`
	// Tag states what the engine guaranteed on this row: durability
	// (D durable commit, N on disk without sync, M memory only) and order
	// (O ordered by the engine, S sorted at scan time), e.g. "D/O".
	Tag   string             `json:"tag,omitempty"`
	NA    string             `json:"na,omitempty"`    // why there is no value
	Err   string             `json:"error,omitempty"` // a failure or wrong data
	Extra map[string]float64 `json:"extra,omitempty"`
	// Samples holds every round's value when -count > 1; Value is their
	// median.
	Samples []float64 `json:"samples,omitempty"`
}

func (c *Cell) ok() bool { return c != nil && c.NA == "" && c.Err == "" }

// Limit is a physical limit measured on the same disk in the same run.
type Limit struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	What  string  `json:"what"`
}

// EngineInfo describes an engine column.
type EngineInfo struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Persistent bool   `json:"persistent"`
	Durable    bool   `json:"durable"`
	Ordered    bool   `json:"ordered"`
	OffHeap    string `json:"off_heap,omitempty"`
	Note       string `json:"note"`
}

// Row is a metric with its cells, limit and dualdb's ratio.
type Row struct {
	Metric
	Cells map[string]*Cell `json:"cells"`
	// Ratio is dualdb's performance relative to the best peer on the row,
	// oriented so that >1 means dualdb is better (for lower-is-better units
	// it is best/dualdb). Zero when either side has no value.
	Ratio     float64 `json:"ratio,omitempty"`
	RatioPeer string  `json:"ratio_peer,omitempty"`
	LimitVal  *Limit  `json:"limit_value,omitempty"`
}

// Results is what results.json holds.
type Results struct {
	Started    time.Time `json:"started"`
	Seconds    float64   `json:"seconds"`
	GoVersion  string    `json:"go_version"`
	GOOS       string    `json:"goos"`
	GOARCH     string    `json:"goarch"`
	NumCPU     int       `json:"num_cpu"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	Config     Config    `json:"config"`
	DataDir    string    `json:"data_dir"`
	FSType     string    `json:"fs_type"`
	Warnings   []string  `json:"warnings,omitempty"`
	// LoadAvg is the 1-minute load average read before each engine run:
	// above GOMAXPROCS, other processes competed for the CPU.
	LoadAvg []float64         `json:"load_avg,omitempty"`
	Engines []EngineInfo      `json:"engines"`
	Limits  map[string]*Limit `json:"limits"`
	Rows    []*Row            `json:"rows"`
}

// cell returns (creating) the cell of engine on metric id.
func (r *Results) cell(id, engine string) *Cell {
	for _, row := range r.Rows {
		if row.ID == id {
			c := row.Cells[engine]
			if c == nil {
				c = &Cell{}
				row.Cells[engine] = c
			}
			return c
		}
	}
	panic("bench: unknown metric " + id)
}

// finish fills limits and ratios.
func (r *Results) finish() {
	for _, row := range r.Rows {
		if l, ok := r.Limits[row.Limit]; ok {
			row.LimitVal = l
		}
		row.Ratio, row.RatioPeer = 0, ""
		d := row.Cells["dualdb"]
		if !d.ok() || d.Value <= 0 {
			continue
		}
		best, bestName := math.NaN(), ""
		for _, e := range r.Engines {
			c := row.Cells[e.Name]
			if e.Name == "dualdb" || !c.ok() || c.Value <= 0 {
				continue
			}
			if row.LikeOnly && tagDurability(c.Tag) != tagDurability(d.Tag) {
				continue
			}
			if row.HeapOnly && e.OffHeap != "" {
				continue
			}
			if math.IsNaN(best) || (row.Higher && c.Value > best) || (!row.Higher && c.Value < best) {
				best, bestName = c.Value, e.Name
			}
		}
		if bestName == "" {
			continue
		}
		if row.Higher {
			row.Ratio = d.Value / best
		} else {
			row.Ratio = best / d.Value
		}
		row.RatioPeer = bestName
	}
}

func tagDurability(tag string) string {
	if tag == "" {
		return ""
	}
	return tag[:1]
}

// merge folds the rounds of a -count run into r: each cell's value becomes
// the median of its rounds (any failing round makes the cell fail), and so
// does each limit.
func (r *Results) merge(rounds []*Results) {
	for i, row := range r.Rows {
		for _, e := range r.Engines {
			var cells []*Cell
			for _, rd := range rounds {
				if c := rd.Rows[i].Cells[e.Name]; c != nil {
					cells = append(cells, c)
				}
			}
			if len(cells) == 0 {
				continue
			}
			out := *cells[len(cells)-1]
			if len(cells) > 1 && out.ok() {
				for _, c := range cells {
					if !c.ok() {
						out = *c
						break
					}
					out.Samples = append(out.Samples, c.Value)
				}
				if out.ok() {
					out.Value = median(out.Samples)
				}
			}
			row.Cells[e.Name] = &out
		}
	}
	for _, rd := range rounds {
		for k, l := range rd.Limits {
			if r.Limits[k] == nil {
				var vals []float64
				for _, rd2 := range rounds {
					if l2 := rd2.Limits[k]; l2 != nil {
						vals = append(vals, l2.Value)
					}
				}
				m := *l
				m.Value = median(vals)
				r.Limits[k] = &m
			}
		}
		r.Warnings = append(r.Warnings, rd.Warnings...)
		r.LoadAvg = append(r.LoadAvg, rd.LoadAvg...)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Errors returns every failing cell as "engine metric: error".
func (r *Results) Errors() []string {
	var out []string
	for _, row := range r.Rows {
		for _, e := range r.Engines {
			if c := row.Cells[e.Name]; c != nil && c.Err != "" {
				out = append(out, e.Name+" "+row.ID+": "+c.Err)
			}
		}
	}
	return out
}
