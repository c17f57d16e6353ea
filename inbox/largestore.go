package inbox

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"polyglot/protocols"
)

// LargeSpec shapes a generated store for benchmarks.
type LargeSpec struct {
	Messages      int // total messages (e.g. 1,000,000)
	Conversations int // direct conversations (e.g. 5,000)
	Biggest       int // messages in the newest conversation (e.g. 100,000)
	Seed          uint64
	Now           time.Time
}

// GenSpec is the name the design uses for LargeSpec.
type GenSpec = LargeSpec

// words is the vocabulary of generated bodies; search benchmarks query it.
var words = strings.Fields(`the a and to of in is you that it for on with are this be at have
not was but they we from can all what so there about if out up time when just one your like
meeting tomorrow coffee tickets train build release review deploy lunch weekend hike concert
birthday photo link address flight hotel invoice budget draft slides bug patch test server
matrix jabber whatsapp encryption keys device verify backup phone number call later tonight`)

// GenerateLarge fills a new store at path with synthetic people, one
// Matrix identity each, and messages spread over their conversations, the
// newest conversation holding spec.Biggest of them. It writes rows in bulk
// (the ingest path is measured separately), through the real schema.
func GenerateLarge(path string, spec LargeSpec) error {
	if spec.Conversations < 1 || spec.Messages < spec.Biggest || spec.Biggest < 1 {
		return fmt.Errorf("inbox: bad LargeSpec %+v", spec)
	}
	if spec.Now.IsZero() {
		spec.Now = time.Now()
	}
	in, err := Open(path, Options{})
	if err != nil {
		return err
	}
	defer in.Close()
	rng := rand.New(rand.NewPCG(spec.Seed, 1))

	err = in.write(func(tx *sql.Tx) error {
		for c := 1; c <= spec.Conversations; c++ {
			name := fmt.Sprintf("Person %05d", c)
			addr := fmt.Sprintf("@p%05d:example.org", c)
			if _, err := tx.Exec(`INSERT INTO people(id, name, norm_name) VALUES (?, ?, ?)`, c, name, normName(name)); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO identities(person_id, network, addr_id, account, server, name, encryption, consent, contact)
				VALUES (?, 'matrix', ?, 'mx', 'example.org', ?, ?, ?, 1)`, c, addr, name, int(protocols.EncE2EE), int(ConsentAccepted)); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO conversations(id, kind, person_id, title) VALUES (?, 1, ?, ?)`, c, c, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Message i belongs to conversation conv(i); the biggest conversation is
	// the last one and holds its share at the newest timestamps.
	const chunk = 50_000
	others := spec.Messages - spec.Biggest
	for start := 0; start < spec.Messages; start += chunk {
		end := min(start+chunk, spec.Messages)
		err := in.write(func(tx *sql.Tx) error {
			st, err := tx.Prepare(`INSERT INTO messages(conversation_id, network, account, network_id, chat_id, sender,
				sender_name, outgoing, body, at, encryption, state, fts_later) VALUES (?, 'matrix', 'mx', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
			if err != nil {
				return err
			}
			defer st.Close()
			var first int64
			if err := tx.QueryRow(`SELECT coalesce(max(id), 0) + 1 FROM messages`).Scan(&first); err != nil {
				return err
			}
			for i := start; i < end; i++ {
				conv := spec.Conversations
				age := time.Duration(spec.Messages-i) * time.Second
				if i < others {
					conv = 1 + i%max(spec.Conversations-1, 1)
					age += time.Duration(spec.Biggest) * time.Second
				}
				out := rng.IntN(2) == 0
				sender, name, state := fmt.Sprintf("@p%05d:example.org", conv), fmt.Sprintf("Person %05d", conv), StateReceived
				if out {
					sender, name, state = "@me:example.org", "", StateRead
				}
				if _, err := st.Exec(conv, fmt.Sprintf("$gen%07d", i), fmt.Sprintf("!dm%05d:example.org", conv), sender,
					name, boolInt(out), body(rng), toNanos(spec.Now.Add(-age)), int(protocols.EncE2EE), int(state)); err != nil {
					return err
				}
			}
			// Index the chunk in one statement, as ingest does.
			_, err = tx.Exec(`INSERT INTO messages_fts(rowid, body) SELECT id, body FROM messages WHERE id >= ?`, first)
			return err
		})
		if err != nil {
			return err
		}
	}
	err = in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE conversations SET
			last_at = (SELECT max(at) FROM messages m WHERE m.conversation_id = conversations.id),
			preview = coalesce((SELECT body FROM messages m WHERE m.conversation_id = conversations.id ORDER BY at DESC, id DESC LIMIT 1), '')`)
		return err
	})
	if err != nil {
		return err
	}
	// A store that grew over months has had its index merged many times;
	// bulk loading leaves many small segments that every query must merge.
	return in.OptimizeSearch()
}

func body(rng *rand.Rand) string {
	n := 3 + rng.IntN(13)
	b := make([]string, n)
	for i := range b {
		b[i] = words[rng.IntN(len(words))]
	}
	return strings.Join(b, " ")
}
