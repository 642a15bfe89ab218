package db_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// TestClose_EveryMethod pins down what each exported method of *DB does
// after Close, as Close's doc says: methods that return an error return
// ErrClosed; the others answer from the last durable version in memory.
// A method added to DB without an entry here fails the test, so the
// after-Close behavior of every method stays decided and tested.
func TestClose_EveryMethod(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	mustPut(t, d, "b", "ib", "B")
	want := d.Stats()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	closedErr := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, db.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	checks := map[string]func(){
		"Close": func() {
			if err := d.Close(); err != nil {
				t.Errorf("second Close = %v, want nil", err)
			}
		},
		"Dir": func() {
			if d.Dir() == "" {
				t.Error("Dir after Close is empty")
			}
		},
		"Version": func() {
			if v := d.Version(); v != 2 {
				t.Errorf("Version after Close = %d, want 2", v)
			}
		},
		"Stats": func() {
			st := d.Stats()
			if st.Version != want.Version || st.Records != want.Records || st.Commits != want.Commits {
				t.Errorf("Stats after Close = version %d, %d records, %d commits; want %d, %d, %d",
					st.Version, st.Records, st.Commits, want.Version, want.Records, want.Commits)
			}
		},
		"Snapshot": func() {
			s := d.Snapshot()
			if s.Version() != 2 || s.Len() != 2 {
				t.Errorf("Snapshot after Close: version %d, %d records; want 2, 2", s.Version(), s.Len())
			}
			r, err := s.Get([]byte("b"))
			wantRecord(t, "Snapshot().Get after Close", r, err, "b", "ib", "B")
		},
		"CheckOnline": func() {
			ev := d.CheckOnline(nil)
			if ev.Version != 2 || len(ev.Findings) != 0 {
				t.Errorf("CheckOnline after Close: version %d, findings %v; want 2, none", ev.Version, ev.Findings)
			}
		},
		"Get": func() {
			_, err := d.Get([]byte("a"))
			closedErr("Get", err)
		},
		"GetByIndex": func() {
			_, err := d.GetByIndex([]byte("ia"))
			closedErr("GetByIndex", err)
		},
		"Put":    func() { closedErr("Put", d.Put([]byte("c"), []byte("ic"), nil)) },
		"Delete": func() { closedErr("Delete", d.Delete([]byte("a"))) },
		"Insert": func() { closedErr("Insert", d.Insert([]byte("c"), []byte("ic"), nil)) },
		"PutAll": func() {
			closedErr("PutAll", d.PutAll(db.Record{Key: []byte("c"), Index: []byte("ic")}))
		},
		"Update": func() {
			closedErr("Update", d.Update(func(*db.Tx) error {
				t.Error("Update called fn after Close")
				return nil
			}))
		},
		"View": func() {
			closedErr("View", d.View(func(*db.Snapshot) error {
				t.Error("View called fn after Close")
				return nil
			}))
		},
		"Backup": func() {
			var buf bytes.Buffer
			_, err := d.Backup(&buf)
			closedErr("Backup", err)
			if buf.Len() != 0 {
				t.Errorf("Backup after Close wrote %d bytes", buf.Len())
			}
		},
		"Handler": func() {
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status", nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("Handler after Close: GET /v1/status = %d, want 503", rec.Code)
			}
		},
		"Changes": func() {
			n := 0
			for _, err := range d.Changes(context.Background(), 0) {
				closedErr("Changes", err)
				n++
			}
			if n != 1 {
				t.Errorf("Changes after Close yielded %d times, want once (ErrClosed)", n)
			}
		},
		"Checkpoint": func() {
			_, err := d.Checkpoint()
			closedErr("Checkpoint", err)
		},
	}
	typ := reflect.TypeOf(d)
	var missing []string
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		check, ok := checks[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		t.Run(name, func(*testing.T) { check() })
		delete(checks, name)
	}
	if len(missing) > 0 {
		t.Errorf("methods of *db.DB with no after-Close check here: %v (decide their behavior, document it at Close, add a check)", missing)
	}
	for name := range checks {
		t.Errorf("check for %s, which *db.DB no longer has", name)
	}
}
