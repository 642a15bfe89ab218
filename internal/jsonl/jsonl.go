// Package jsonl is the JSON-lines encoding of records shared by the dualdb
// command (export, import, scan --json, get --json) and the db package's
// operator handler, so that both write byte-identical lines.
//
// One record is one line:
//
//	{"key":"user:0000000001","index":"ada@example.com","value":"{\"id\":1}"}
//
// A field that is valid UTF-8 is a JSON string; any other is base64
// (standard alphabet, padded) under the name with "_b64" appended, e.g.
// "value_b64", so any bytes survive. The encoding is deterministic: one
// record has exactly one line.
package jsonl

import (
	"encoding/base64"
	"unicode/utf8"
)

// AppendRecord appends the record (key, index, value) as one line of the
// format, without the newline.
func AppendRecord(b, key, index, value []byte) []byte {
	b = append(b, '{')
	b = AppendField(b, "key", key)
	b = append(b, ',')
	b = AppendField(b, "index", index)
	b = append(b, ',')
	b = AppendField(b, "value", value)
	return append(b, '}')
}

// AppendField appends `"name":value` for v: a JSON string if v is valid
// UTF-8, else `"name_b64":"<base64>"`.
func AppendField(b []byte, name string, v []byte) []byte {
	if utf8.Valid(v) {
		b = AppendString(b, name)
		b = append(b, ':')
		return AppendString(b, string(v))
	}
	b = AppendString(b, name+"_b64")
	b = append(b, ':', '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// AppendString appends s, which must be valid UTF-8, as a JSON string.
// Only '"', '\\' and control characters below U+0020 are escaped, so the
// output is the same whatever JSON library reads it back.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
