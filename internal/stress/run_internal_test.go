package stress

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The keys built with strconv are byte for byte what fmt prints, on both
// sides of every padding width.
func TestKeys_MatchFmt(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 100, 999, 1000, 12345, 9999999, 10000000, 99999999, 100000000, 123456789012} {
		for _, c := range []struct{ got, want string }{
			{string(recordKey(n)), fmt.Sprintf("k/%08d", n)},
			{string(loadedIndex(n)), fmt.Sprintf("x/%08d", n)},
			{string(appendWorkerKey(nil, "x/", n, n+1)), fmt.Sprintf("x/w%03d-%d", n, n+1)},
			{string(appendWorkerKey([]byte("pre"), tmpPrefix, n, 7)), fmt.Sprintf("pre%sw%03d-%d", tmpPrefix, n, 7)},
		} {
			if c.got != c.want {
				t.Errorf("n=%d: got %q, want %q", n, c.got, c.want)
			}
		}
	}
}

// keyNumber reads back every recordKey and refuses anything else.
func TestKeyNumber(t *testing.T) {
	for _, n := range []int{0, 7, 10000, 99999999, 123456789} {
		if got, ok := keyNumber(recordKey(n)); !ok || got != n {
			t.Errorf("keyNumber(%q) = %d, %v; want %d, true", recordKey(n), got, ok, n)
		}
	}
	for _, k := range []string{"", "k/", "x/00000001", "k/0000000a", "k/-1", "K/00000001", "k/1234567890123456789"} {
		if n, ok := keyNumber([]byte(k)); ok {
			t.Errorf("keyNumber(%q) = %d, true; want false", k, n)
		}
	}
}

// ParseMix reads what Mix.String writes, and refuses a mix that does not
// add up or names an unknown operation.
func TestParseMix(t *testing.T) {
	m, err := ParseMix(DefaultMix.String())
	if err != nil || m != DefaultMix {
		t.Fatalf("ParseMix(%q) = %v, %v; want DefaultMix", DefaultMix.String(), m, err)
	}
	m, err = ParseMix(" get = 90 ,update=10")
	if err == nil {
		t.Errorf("spaces around = accepted: %v", m)
	}
	m, err = ParseMix("get=90, update=10")
	if want := (Mix{OpGet: 90, OpUpdate: 10}); err != nil || m != want {
		t.Errorf("ParseMix = %v, %v; want %v", m, err, want)
	}
	for _, bad := range []struct{ mix, want string }{
		{"get=90", "add up to 90"},
		{"get=90,put=20", "add up to 110"},
		{"get=100,check=0", `unknown operation "check"`},
		{"read=100", `unknown operation "read"`},
		{"get=50,get=50", "given twice"},
		{"get=-10,put=110", "not a percentage"},
		{"get", "not op=percent"},
		{"", "not op=percent"},
	} {
		if _, err := ParseMix(bad.mix); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseMix(%q) = %v, want an error saying %q", bad.mix, err, bad.want)
		}
	}
	if _, err := New(Config{Workers: 1, Keys: 2, CheckEvery: time.Second, Mix: Mix{OpGet: 50}}); err == nil {
		t.Error("New accepted a mix adding up to 50")
	}
}
