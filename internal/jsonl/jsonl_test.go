package jsonl_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/dualdb/dualdb/internal/jsonl"
)

func TestAppendRecord(t *testing.T) {
	for _, c := range []struct {
		key, index, value []byte
		want              string
	}{
		{[]byte("user:1"), []byte("ada@example.com"), []byte(`{"id":1}`),
			`{"key":"user:1","index":"ada@example.com","value":"{\"id\":1}"}`},
		{[]byte("a\tb\n"), []byte("\x01"), nil, `{"key":"a\tb\n","index":"\u0001","value":""}`},
		{[]byte{0xff, 0x00}, []byte("i"), []byte{0xc3}, `{"key_b64":"/wA=","index":"i","value_b64":"ww=="}`},
	} {
		got := string(jsonl.AppendRecord(nil, c.key, c.index, c.value))
		if got != c.want {
			t.Errorf("AppendRecord(%q, %q, %q) = %s, want %s", c.key, c.index, c.value, got, c.want)
		}
		// Any JSON reader gets the bytes back.
		var m map[string]string
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("%s does not parse: %v", got, err)
		}
		for name, want := range map[string][]byte{"key": c.key, "index": c.index, "value": c.value} {
			v, ok := m[name]
			b := []byte(v)
			if !ok {
				var err error
				if b, err = base64.StdEncoding.DecodeString(m[name+"_b64"]); err != nil {
					t.Fatalf("%s: %s_b64: %v", got, name, err)
				}
			}
			if string(b) != string(want) {
				t.Errorf("%s: %s reads back %q, want %q", got, name, b, want)
			}
		}
	}
}
