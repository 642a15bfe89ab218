package crashtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The child reports to the parent one line per event on its stdout. A
// line is written with one write(2) call before the next step of the
// child begins, so when a line is in the pipe, the event it reports has
// happened; a line cut by the kill has no newline and is ignored.
//
//	S <pid>                                  started, before Open
//	O <version> <nanoseconds>                Open returned; the store is at version
//	I <writer> <seq> <kind> <step>...        intent: the operation is about to be called
//	A <writer> <seq> [v<version>]            the operation returned nil; the version of
//	                                         its commit, if it left a record it wrote
//	F <writer> <seq> <result> <message>      the operation returned an error
//	C b <n>                                  explicit checkpoint n begins
//	C e <n> <version> <nanoseconds> [error]  explicit checkpoint n returned
//	V <finding>                              the child's own invariant check failed
//	X <message>                              the child cannot go on (Open failed)
//	Q                                        the child stopped by itself
//
// A step is P,<key>,<index>,<value size> (a put), D,<key> (a delete) or
// R,<from>,<to>,<value size> (ballast: puts of BallastKey(w, i),
// BallastIndex(w, i) for i in [from, to)). Keys and index keys never
// contain spaces or commas.

// Event is one parsed line.
type Event struct {
	Type    byte // 'S', 'O', 'I', 'A', 'F', 'C', 'V', 'X', 'Q'
	Intent  *Intent
	Writer  string
	Seq     uint64
	Result  string // F: the result class
	Msg     string // F, X, V: text; C e: the error, if any
	Version uint64 // O, C e; A: the commit's version, 0 if not reported
	Nanos   int64  // O, C e
	Begin   bool   // C: b (true) or e (false)
	N       int    // C: checkpoint number
}

// BallastKey returns the key of ballast record i of writer w.
func BallastKey(w string, i int) string { return fmt.Sprintf("%s/k%07d", w, i) }

// BallastIndex returns the index key of ballast record i of writer w.
func BallastIndex(w string, i int) string { return fmt.Sprintf("%s/x%07d", w, i) }

// FormatIntent returns the I line (without newline) of in. Ballast range
// steps are passed as ranges to keep lines short.
func FormatIntent(in *Intent, ranges [][3]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "I %s %d %c", in.Writer, in.Seq, in.Kind)
	for _, r := range ranges {
		fmt.Fprintf(&b, " R,%d,%d,%d", r[0], r[1], r[2])
	}
	for _, s := range in.Steps {
		if s.Del {
			fmt.Fprintf(&b, " D,%s", s.Key)
		} else {
			fmt.Fprintf(&b, " P,%s,%s,%d", s.Key, s.Index, s.VSize)
		}
	}
	return b.String()
}

var errBadLine = errors.New("crashtest: malformed line")

// ParseLine parses one line (without its newline).
func ParseLine(line string) (Event, error) {
	f := strings.Fields(line)
	if len(f) == 0 || len(f[0]) != 1 {
		return Event{}, fmt.Errorf("%w: %q", errBadLine, line)
	}
	ev := Event{Type: f[0][0]}
	bad := func() (Event, error) { return Event{}, fmt.Errorf("%w: %q", errBadLine, line) }
	var err error
	switch ev.Type {
	case 'S', 'Q':
	case 'O':
		if len(f) != 3 {
			return bad()
		}
		if ev.Version, err = strconv.ParseUint(f[1], 10, 64); err != nil {
			return bad()
		}
		if ev.Nanos, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return bad()
		}
	case 'I':
		if len(f) < 4 || len(f[3]) != 1 {
			return bad()
		}
		in := &Intent{Writer: f[1], Kind: f[3][0]}
		if in.Seq, err = strconv.ParseUint(f[2], 10, 64); err != nil {
			return bad()
		}
		for _, tok := range f[4:] {
			p := strings.Split(tok, ",")
			switch {
			case p[0] == "D" && len(p) == 2:
				in.Steps = append(in.Steps, Step{Del: true, Key: p[1]})
			case p[0] == "P" && len(p) == 4:
				n, err := strconv.Atoi(p[3])
				if err != nil {
					return bad()
				}
				in.Steps = append(in.Steps, Step{Key: p[1], Index: p[2], VSize: n})
			case p[0] == "R" && len(p) == 4:
				from, err1 := strconv.Atoi(p[1])
				to, err2 := strconv.Atoi(p[2])
				n, err3 := strconv.Atoi(p[3])
				if err1 != nil || err2 != nil || err3 != nil || from > to {
					return bad()
				}
				for i := from; i < to; i++ {
					in.Steps = append(in.Steps, Step{Key: BallastKey(in.Writer, i), Index: BallastIndex(in.Writer, i), VSize: n})
				}
			default:
				return bad()
			}
		}
		switch in.Kind {
		case KindPut:
			if len(in.Steps) != 1 || in.Steps[0].Del {
				return bad()
			}
		case KindDel:
			if len(in.Steps) != 1 || !in.Steps[0].Del {
				return bad()
			}
		case KindTx, KindAbort:
		default:
			return bad()
		}
		ev.Intent, ev.Writer, ev.Seq = in, in.Writer, in.Seq
	case 'A', 'F':
		if len(f) < 3 || (ev.Type == 'F' && len(f) < 4) || (ev.Type == 'A' && len(f) > 4) {
			return bad()
		}
		ev.Writer = f[1]
		if ev.Seq, err = strconv.ParseUint(f[2], 10, 64); err != nil {
			return bad()
		}
		if ev.Type == 'A' && len(f) == 4 {
			v, ok := strings.CutPrefix(f[3], "v")
			if !ok {
				return bad()
			}
			if ev.Version, err = strconv.ParseUint(v, 10, 64); err != nil {
				return bad()
			}
		}
		if ev.Type == 'F' {
			ev.Result = f[3]
			ev.Msg = strings.Join(f[4:], " ")
		}
	case 'C':
		if len(f) < 3 {
			return bad()
		}
		ev.Begin = f[1] == "b"
		if ev.N, err = strconv.Atoi(f[2]); err != nil {
			return bad()
		}
		if !ev.Begin {
			if len(f) < 5 {
				return bad()
			}
			if ev.Version, err = strconv.ParseUint(f[3], 10, 64); err != nil {
				return bad()
			}
			if ev.Nanos, err = strconv.ParseInt(f[4], 10, 64); err != nil {
				return bad()
			}
			ev.Msg = strings.Join(f[5:], " ")
		}
	case 'V', 'X':
		ev.Msg = strings.Join(f[1:], " ")
	default:
		return bad()
	}
	return ev, nil
}
