package testtier_test

import (
	"testing"

	"github.com/dualdb/dualdb/internal/testtier"
)

func TestPick(t *testing.T) {
	for _, c := range []struct {
		env  string
		long bool
	}{{"", false}, {"0", false}, {"false", false}, {"junk", false}, {"1", true}, {"true", true}} {
		t.Setenv(testtier.Env, c.env)
		if got := testtier.Long(); got != c.long {
			t.Errorf("%s=%q: Long() = %v, want %v", testtier.Env, c.env, got, c.long)
		}
		want := "fast"
		if c.long {
			want = "long"
		}
		if got := testtier.Pick("fast", "long"); got != want {
			t.Errorf("%s=%q: Pick = %q, want %q", testtier.Env, c.env, got, want)
		}
	}
}

func TestSkipUnlessLong(t *testing.T) {
	t.Setenv(testtier.Env, "")
	ran := false
	t.Run("fast", func(t *testing.T) {
		testtier.SkipUnlessLong(t, "a long test")
		ran = true
	})
	if ran {
		t.Error("SkipUnlessLong did not skip in the fast tier")
	}
	t.Setenv(testtier.Env, "1")
	t.Run("long", func(t *testing.T) {
		testtier.SkipUnlessLong(t, "a long test")
		ran = true
	})
	if !ran {
		t.Error("SkipUnlessLong skipped in the long tier")
	}
}
