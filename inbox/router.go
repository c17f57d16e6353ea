package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"polyglot/protocols"
)

// Routes lists every way to reach a conversation, best first: identities of
// the person × attached accounts of the same network that can reach them (an
// identity seen through one account is reached through that account; one
// without an account through any account of its network). A group has one
// route per account that holds the room.
func (in *Inbox) Routes(id ConversationID) ([]Route, error) {
	rs, _, err := in.routes(id)
	return rs, err
}

// routeCtx is what the router knows about the conversation besides routes.
type routeCtx struct {
	kind           ConversationKind
	person         PersonID
	title          string
	preferred      protocols.Network
	lastUsed       protocols.Network
	allowDowngrade bool
	request        bool
	chats          map[string]string // account → network chat ID (last mapped)
	chatList       []chatRow
	addrs          map[string]bool // network:addr of the person's identities
}

// chatRow is one network chat mapped to the conversation.
type chatRow struct{ account, chat, network string }

func (in *Inbox) routes(id ConversationID) ([]Route, routeCtx, error) {
	var rc routeCtx
	var person sql.NullInt64
	var req int
	err := in.db.QueryRow(`SELECT kind, person_id, title, request FROM conversations WHERE id = ?`, id).Scan(&rc.kind, &person, &rc.title, &req)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rc, fmt.Errorf("inbox: conversation %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, rc, err
	}
	rc.request = req == 1
	rows, err := in.db.Query(`SELECT account, chat_id, network FROM chats WHERE conversation_id = ? ORDER BY rowid`, id)
	if err != nil {
		return nil, rc, err
	}
	var chats []chatRow
	for rows.Next() {
		var c chatRow
		if err := rows.Scan(&c.account, &c.chat, &c.network); err != nil {
			rows.Close()
			return nil, rc, err
		}
		chats = append(chats, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, rc, err
	}
	rc.chatList = chats
	rc.chats = make(map[string]string, len(chats))
	for _, c := range chats {
		rc.chats[c.account] = c.chat
	}

	in.mu.Lock()
	known := make(map[string]knownAccount, len(in.known))
	for acc, k := range in.known {
		if _, live := in.conns[acc]; !live {
			known[acc] = k
		}
	}
	conns := make(map[string]protocols.Connector, len(in.conns))
	online := map[string]bool{}
	for acc, c := range in.conns {
		conns[acc] = c
		online[acc] = in.states[acc].State == protocols.ConnOnline
	}
	in.mu.Unlock()

	var cands []Route
	if rc.kind == Group {
		for _, ch := range chats {
			c, ok := conns[ch.account]
			if !ok {
				continue
			}
			to := protocols.Address{Network: c.Network(), Account: protocols.AccountID(ch.account), ID: ch.chat}
			cands = append(cands, Route{Account: ch.account, Network: c.Network(), To: to,
				Encryption: c.PeerEncryption(to), Online: online[ch.account]})
		}
		return rankRoutes(cands, "", ""), rc, nil
	}

	rc.person = PersonID(person.Int64)
	var pref, last string
	var allow int
	if err := in.db.QueryRow(`SELECT preferred, last_network, allow_downgrade FROM people WHERE id = ?`, rc.person).Scan(&pref, &last, &allow); err != nil {
		return nil, rc, err
	}
	rc.preferred, rc.lastUsed, rc.allowDowngrade = protocols.Network(pref), protocols.Network(last), allow == 1
	ids, err := in.identities(rc.person)
	if err != nil {
		return nil, rc, err
	}
	rc.addrs = make(map[string]bool, len(ids))
	for _, ident := range ids {
		rc.addrs[ident.Address.Key()] = true
	}
	for _, ident := range ids {
		if ident.Consent == ConsentBlocked {
			continue
		}
		for acc, c := range conns {
			if c.Network() != ident.Address.Network {
				continue
			}
			if ident.Address.Account != "" && ident.Address.Account != protocols.AccountID(acc) {
				continue
			}
			to := ident.Address
			to.Account = protocols.AccountID(acc)
			cands = append(cands, Route{Account: acc, Network: c.Network(), To: to,
				Encryption: c.PeerEncryption(to), Online: online[acc]})
		}
		for acc, k := range known {
			if k.network != ident.Address.Network || (ident.Address.Account != "" && ident.Address.Account != protocols.AccountID(acc)) {
				continue
			}
			to := ident.Address
			to.Account = protocols.AccountID(acc)
			cands = append(cands, Route{Account: acc, Network: k.network, To: to,
				Encryption: max(ident.Encryption, k.floor), Online: false})
		}
	}
	return rankRoutes(cands, rc.preferred, rc.lastUsed), rc, nil
}

// rankRoutes orders routes: encryption class (strongest first), then the
// user's preferred network, then the network last used with the person,
// then a stable order (network display order, account, address).
func rankRoutes(rs []Route, preferred, lastUsed protocols.Network) []Route {
	for i := range rs {
		rs[i].Preferred = preferred != "" && rs[i].Network == preferred
		rs[i].LastUsed = lastUsed != "" && rs[i].Network == lastUsed
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Encryption != b.Encryption {
			return a.Encryption > b.Encryption
		}
		if a.Preferred != b.Preferred {
			return a.Preferred
		}
		if a.LastUsed != b.LastUsed {
			return a.LastUsed
		}
		if netOrder(a.Network) != netOrder(b.Network) {
			return netOrder(a.Network) < netOrder(b.Network)
		}
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.To.ID < b.To.ID
	})
	for i := range rs {
		switch {
		case i == 0 && len(rs) > 1 && rs[1].Encryption < rs[0].Encryption:
			rs[i].Why = "strongest encryption"
		case rs[i].Preferred:
			rs[i].Why = "your preference"
		case rs[i].LastUsed:
			rs[i].Why = "last used"
		case i == 0:
			rs[i].Why = "best available"
		default:
			rs[i].Why = "fallback"
		}
		if !rs[i].Online {
			rs[i].Why += ", offline"
		}
	}
	return rs
}
