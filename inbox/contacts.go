package inbox

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"polyglot/protocols"
)

// ContactMatch is one person or group chat the user can open at once: a
// roster/contact-list entry, a person with a direct conversation, or a
// joined group chat.
type ContactMatch struct {
	// Name is the person's name or the group's title (raw, unsanitized).
	Name string
	// Address is the identity that matched best (a group: its chat ID),
	// with the account it was seen on.
	Address protocols.Address
	Person  PersonID // 0 for a group
	// Conversation is 0 when there is none yet: opening starts one.
	Conversation ConversationID
	Group        bool
	LastAt       time.Time
}

// likeEscape makes s a literal inside a LIKE pattern (ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// FindContacts lists up to limit people and group chats whose name or
// address contains query (case-insensitive; a name's word or an address
// that starts with it ranks first, then the most recent conversation); an
// empty query lists them all, most recent conversation first, then by name.
// Blocked and ignored people and requests are left out. The match runs in
// SQLite over the identities and conversations rows with LIMIT, so nothing
// loads every contact.
func (in *Inbox) FindContacts(query string, limit int) ([]ContactMatch, error) {
	q := normName(query)
	if limit <= 0 || limit > 50 {
		limit = 50
	}
	e := likeEscape(q)
	pre, word, sub := e+"%", "% "+e+"%", "%"+e+"%"
	// rank 0: the name or the address (without its sigil) starts with the
	// query; 1: a word of the name does; 2: it is somewhere inside.
	// SQLite takes the bare columns of a min() group from the row holding
	// the minimum, so each person shows the identity that matched best.
	rows, err := in.db.Query(`
		SELECT 0, p.id, coalesce(c.id, 0), p.name, i.network, i.addr_id, i.account, i.server,
			min(CASE WHEN p.norm_name LIKE :pre ESCAPE '\' OR i.name LIKE :pre ESCAPE '\'
					OR ltrim(i.addr_id, '@+') LIKE :pre ESCAPE '\' THEN 0
				WHEN ' ' || p.norm_name LIKE :word ESCAPE '\' OR ' ' || i.name LIKE :word ESCAPE '\' THEN 1
				ELSE 2 END) AS rank,
			coalesce(c.last_at, 0) AS at
		FROM identities i JOIN people p ON p.id = i.person_id
		LEFT JOIN conversations c ON c.kind = 1 AND c.person_id = p.id
		WHERE i.consent NOT IN (2, 3) AND coalesce(c.hidden, 0) = 0
			AND (i.contact = 1 OR c.request = 0)
			AND (p.norm_name LIKE :sub ESCAPE '\' OR i.name LIKE :sub ESCAPE '\' OR i.addr_id LIKE :sub ESCAPE '\')
		GROUP BY p.id
		UNION ALL
		SELECT 1, 0, c.id, c.title, ch.network, ch.chat_id, ch.account, '',
			min(CASE WHEN c.title LIKE :pre ESCAPE '\' OR ltrim(ch.chat_id, '#!') LIKE :pre ESCAPE '\' THEN 0
				WHEN ' ' || c.title LIKE :word ESCAPE '\' THEN 1 ELSE 2 END) AS rank,
			c.last_at AS at
		FROM conversations c JOIN chats ch ON ch.conversation_id = c.id
		WHERE c.kind = 2 AND c.hidden = 0 AND c.request = 0
			AND (c.title LIKE :sub ESCAPE '\' OR ch.chat_id LIKE :sub ESCAPE '\')
		GROUP BY c.id
		ORDER BY 9, 10 DESC, 4
		LIMIT :limit`,
		sql.Named("pre", pre), sql.Named("word", word), sql.Named("sub", sub), sql.Named("limit", limit))
	if err != nil {
		return nil, fmt.Errorf("inbox: find contacts: %w", err)
	}
	defer rows.Close()
	var out []ContactMatch
	for rows.Next() {
		var m ContactMatch
		var group, rank int
		var at int64
		if err := rows.Scan(&group, &m.Person, &m.Conversation, &m.Name, &m.Address.Network, &m.Address.ID,
			&m.Address.Account, &m.Address.Server, &rank, &at); err != nil {
			return nil, fmt.Errorf("inbox: find contacts: %w", err)
		}
		m.Group, m.LastAt = group == 1, fromNanos(at)
		if m.Name == "" {
			m.Name = m.Address.ID
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
