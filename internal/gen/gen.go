// Package gen makes deterministic, realistic-looking records for demos,
// tests and benchmarks: users keyed by id with a unique e-mail address as
// index key and a JSON profile as value. The same seed and id always give
// the same bytes.
package gen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

var (
	firstNames = []string{"ada", "alan", "barbara", "brian", "claude", "dennis", "donald", "edsger",
		"frances", "grace", "guido", "hedy", "ivan", "jean", "john", "ken", "leslie", "linus",
		"margaret", "niklaus", "radia", "rob", "robert", "sophie", "tim", "tony", "ursula", "whitfield"}
	lastNames = []string{"lovelace", "turing", "liskov", "kernighan", "shannon", "ritchie", "knuth",
		"dijkstra", "allen", "hopper", "rossum", "lamarr", "sutherland", "sammet", "mccarthy",
		"thompson", "lamport", "torvalds", "hamilton", "wirth", "perlman", "pike", "griesemer",
		"wilson", "berners-lee", "hoare", "franklin", "diffie"}
	domains = []string{"example.com", "example.org", "mail.example.net", "corp.example", "uni.example.edu"}
	cities  = []string{"Amsterdam", "Berlin", "Cambridge", "Dublin", "Edinburgh", "Helsinki", "Lisbon",
		"Madrid", "Oslo", "Paris", "Prague", "Rome", "Vienna", "Warsaw", "Zurich"}
	plans = []string{"free", "pro", "team", "enterprise"}
	tags  = []string{"beta", "admin", "billing", "mobile", "api", "newsletter", "sso", "trial"}
)

// User is one generated user.
type User struct {
	ID    uint64
	Key   []byte // "user:%010d"
	Email []byte // unique per ID
	Name  string
	Value []byte // JSON profile
}

// NewUser returns user id under seed. Emails are unique across ids of
// one seed because they carry the id.
func NewUser(seed, id uint64) User {
	r := rand.New(rand.NewPCG(seed, id))
	first := firstNames[r.IntN(len(firstNames))]
	last := lastNames[r.IntN(len(lastNames))]
	email := first + "." + last + strconv.FormatUint(id, 10) + "@" + domains[r.IntN(len(domains))]
	name := first + " " + last
	var t []string
	for _, tg := range tags {
		if r.IntN(4) == 0 {
			t = append(t, strconv.Quote(tg))
		}
	}
	tagList := "["
	for i, s := range t {
		if i > 0 {
			tagList += ","
		}
		tagList += s
	}
	tagList += "]"
	value := fmt.Sprintf(`{"id":%d,"name":%q,"email":%q,"city":%q,"plan":%q,"signup":"2026-%02d-%02dT%02d:%02d:00Z","logins":%d,"verified":%t,"tags":%s}`,
		id, name, email, cities[r.IntN(len(cities))], plans[r.IntN(len(plans))],
		1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(5000), r.IntN(3) != 0, tagList)
	return User{
		ID:    id,
		Key:   fmt.Appendf(nil, "user:%010d", id),
		Email: []byte(email),
		Name:  name,
		Value: []byte(value),
	}
}

// Fixed is a benchmark record: key "user:%010d", index "mail:%016x" (unique,
// pseudo-random), and a value of valueSize pseudo-random printable bytes.
func Fixed(seed, id uint64, valueSize int) (key, index, value []byte) {
	r := rand.New(rand.NewPCG(seed, id))
	key = fmt.Appendf(nil, "user:%010d", id)
	// The id in the low bits keeps index keys unique; the high bits are random.
	index = fmt.Appendf(nil, "mail:%016x", (r.Uint64()&^0xFFFFFFFF)|(id&0xFFFFFFFF))
	value = make([]byte, valueSize)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range value {
		value[i] = alphabet[r.IntN(len(alphabet))]
	}
	return key, index, value
}
