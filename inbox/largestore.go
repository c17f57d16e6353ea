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

// jaWords make the generated messages written without spaces (one in
// cjkEvery): Japanese with some Chinese and Korean, so the character index
// holds a realistic share; search benchmarks query them.
var jaWords = strings.Fields(`明日 今日 昨日 会議 資料 確認 お願い します しました です ます の は を に が で と も
から まで 東京 大阪 駅 電車 時間 場所 予定 連絡 ありがとう よろしく コーヒー ランチ 週末 旅行 写真 新しい 部屋
仕事 プロジェクト レビュー 送ります 了解 大丈夫 会社 友達 誕生日 映画 天気 雨 買い物 料理 、 。 ！ 我们 明天
开会 讨论 项目 谢谢 회의 내일 감사합니다 사진`)

const cjkEvery = 10

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
			gst, err := tx.Prepare(insertGrams)
			if err != nil {
				return err
			}
			defer gst.Close()
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
				text := body(rng)
				if i%cjkEvery == cjkEvery-1 {
					text = cjkBody(rng)
				}
				res, err := st.Exec(conv, fmt.Sprintf("$gen%07d", i), fmt.Sprintf("!dm%05d:example.org", conv), sender,
					name, boolInt(out), text, toNanos(spec.Now.Add(-age)), int(protocols.EncE2EE), int(state))
				if err != nil {
					return err
				}
				if hasGrams(text) {
					id, _ := res.LastInsertId()
					w, u, g := gramText(text)
					if _, err := gst.Exec(id, w, u, g); err != nil {
						return err
					}
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

// cjkBody is a generated message without spaces, sometimes with a Latin
// word in it, as Japanese chat often has.
func cjkBody(rng *rand.Rand) string {
	n := 3 + rng.IntN(13)
	var b strings.Builder
	for i := 0; i < n; i++ {
		if rng.IntN(8) == 0 {
			b.WriteString(" " + words[rng.IntN(len(words))] + " ")
			continue
		}
		b.WriteString(jaWords[rng.IntN(len(jaWords))])
	}
	return strings.TrimSpace(b.String())
}
