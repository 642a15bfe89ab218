package btreeidx_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
)

func TestCheck_Healthy(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	x := btreeidx.New()
	m := map[string]rec{}
	churn(t, x, m, r, 20000)
	noFindings(t, x.View)
	v := x.Freeze()
	churn(t, x, m, r, 5000)
	noFindings(t, v)
	noFindings(t, x.View)

	for _, w := range edgeStrings() {
		mustPut(t, x, w, "edge/"+w, w)
	}
	noFindings(t, x.View)
	if f := x.CheckSample(r, 200, 50, 0); len(f) > 0 {
		t.Fatalf("CheckSample: %s", strings.Join(f, "\n"))
	}
}

func TestCheckSample_HealthyLarge(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 20000
	}
	recs := randomRecs(rand.New(rand.NewPCG(23, 24)), n)
	x := mustBuild(t, recs)
	if f := x.CheckSample(rand.New(rand.NewPCG(1, 2)), 2000, 64, 0); len(f) > 0 {
		t.Fatalf("CheckSample: %d findings:\n%s", len(f), strings.Join(f, "\n"))
	}
}
