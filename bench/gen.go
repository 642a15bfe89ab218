package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// The data set is a pure function of (seed, id): every engine, every run and
// every workload sees the same bytes.
//
//	key    "user:%010d"                 id, so key order is id order
//	index  "mail:%016x"                 unique: low 32 bits are the id, the
//	                                    high 32 random with the top bit clear,
//	                                    so index order is not key order
//	value  100 random printable bytes   (fixed profile)
//	       a JSON user profile          (JSON profile, for on-disk size)
//
// Moved index keys (W8) set the top bit, so they never collide with an
// original index key or with each other (the move counter is in bits 32-62).

// valueSize is the value length of the fixed profile.
const valueSize = 100

// profile selects the value shape.
type profile int

const (
	profileFixed profile = iota // 100-byte random value
	profileJSON                 // JSON user profile
)

func (p profile) String() string {
	if p == profileJSON {
		return "json"
	}
	return "fixed"
}

// genKey returns the primary key of id.
func genKey(id uint64) []byte { return fmt.Appendf(make([]byte, 0, 15), "user:%010d", id) }

// genRecord returns record id of the data set.
func genRecord(seed, id uint64, p profile) Record {
	r := rand.New(rand.NewPCG(seed, id))
	rec := Record{Key: genKey(id), Index: indexFrom(r, id)}
	if p == profileJSON {
		rec.Value = genProfile(r, id)
	} else {
		rec.Value = genValue(r, valueSize)
	}
	return rec
}

// genIndex returns the index key of record id, as genRecord makes it.
func genIndex(seed, id uint64) []byte { return indexFrom(rand.New(rand.NewPCG(seed, id)), id) }

// indexFrom draws the index key of id from r, which must be fresh.
func indexFrom(r *rand.Rand, id uint64) []byte {
	hi := r.Uint64() &^ (1<<63 | 0xFFFFFFFF)
	return fmt.Appendf(make([]byte, 0, 21), "mail:%016x", hi|(id&0xFFFFFFFF))
}

// movedIndex returns the index key that the move number move gives id.
func movedIndex(id, move uint64) []byte {
	return fmt.Appendf(make([]byte, 0, 21), "mail:%016x", 1<<63|(move&0x7FFFFFFF)<<32|(id&0xFFFFFFFF))
}

// genValue returns n printable pseudo-random bytes.
func genValue(r *rand.Rand, n int) []byte {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
	v := make([]byte, n)
	var bits uint64
	for i := range v {
		if i%10 == 0 {
			bits = r.Uint64()
		}
		v[i] = alphabet[bits&63]
		bits >>= 6
	}
	return v
}

var (
	pFirst  = []string{"amara", "bjorn", "chen", "dara", "elif", "femi", "goran", "hana", "ines", "jonas", "kemal", "lena", "mateo", "noor", "oskar", "priya"}
	pLast   = []string{"adeyemi", "berg", "costa", "dubois", "eriksen", "fischer", "garcia", "horvat", "ivanova", "jensen", "kowalski", "larsen", "moreau", "novak"}
	pDomain = []string{"example.com", "example.net", "example.org", "mail.example"}
	pCity   = []string{"Aarhus", "Bologna", "Cork", "Delft", "Graz", "Leuven", "Lyon", "Porto", "Tartu", "Uppsala"}
	pPlan   = []string{"free", "basic", "pro", "team"}
	pTag    = []string{"beta", "admin", "mobile", "api", "sso", "trial"}
)

// genProfile returns a JSON user profile (about 200 bytes) for id.
func genProfile(r *rand.Rand, id uint64) []byte {
	first, last := pFirst[r.IntN(len(pFirst))], pLast[r.IntN(len(pLast))]
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"name":"`...)
	b = append(b, first...)
	b = append(b, ' ')
	b = append(b, last...)
	b = append(b, `","email":"`...)
	b = append(b, first...)
	b = append(b, '.')
	b = append(b, last...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, '@')
	b = append(b, pDomain[r.IntN(len(pDomain))]...)
	b = append(b, `","city":"`...)
	b = append(b, pCity[r.IntN(len(pCity))]...)
	b = append(b, `","plan":"`...)
	b = append(b, pPlan[r.IntN(len(pPlan))]...)
	b = fmt.Appendf(b, `","created":"2025-%02d-%02dT%02d:%02d:%02dZ","logins":%d,"verified":%t,"tags":[`,
		1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(10000), r.IntN(4) != 0)
	n := 0
	for _, t := range pTag {
		if r.IntN(3) == 0 {
			if n > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, t)
			n++
		}
	}
	return append(b, "]}"...)
}

// insertOrder returns the ids 0..n-1 in a seeded random order.
func insertOrder(seed uint64, n int) []uint32 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	r.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}
