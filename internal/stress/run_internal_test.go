package stress

import (
	"fmt"
	"testing"
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
