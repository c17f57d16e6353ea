package inbox

import (
	"database/sql"
	"errors"
	"strings"

	"polyglot/protocols"
)

type identRow struct {
	id       int64
	person   PersonID
	consent  Consent
	contact  bool
	enc      protocols.Encryption
	name     string
	lastNet  protocols.Network
	personNm string
}

type identKey struct {
	net  protocols.Network
	addr string
}

// network resolves the network of an event: the address says it, else the
// attached connector of the account.
func (g *ingester) network(a protocols.Address) protocols.Network {
	if a.Network != "" {
		return a.Network
	}
	return g.in.accountNetwork(g.account)
}

func (in *Inbox) accountNetwork(account string) protocols.Network {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.conns[account]; ok {
		return c.Network()
	}
	return in.states[account].Network
}

// serverOf derives the server part of a network address: Matrix
// @user:server / !room:server, XMPP user@server/resource, WhatsApp
// number@s.whatsapp.net.
func serverOf(id string) string {
	if id == "" {
		return ""
	}
	if strings.ContainsAny(id[:1], "@!#") {
		if i := strings.IndexByte(id, ':'); i >= 0 {
			return strings.ToLower(id[i+1:])
		}
		return ""
	}
	if i := strings.LastIndexByte(id, '@'); i >= 0 {
		s := id[i+1:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[:j]
		}
		return strings.ToLower(s)
	}
	return ""
}

func addrServer(a protocols.Address) string {
	if a.Server != "" {
		return strings.ToLower(a.Server)
	}
	return serverOf(a.ID)
}

// notPhoneHosts are WhatsApp servers whose user parts are digits but no
// phone number: a LID (an opaque ID WhatsApp gives some chats), a group, a
// broadcast list, a channel.
var notPhoneHosts = map[string]bool{"lid": true, "g.us": true, "broadcast": true, "newsletter": true}

// phoneDigits extracts a phone number from an address whose user part is
// one (WhatsApp JIDs, +4915…@host, tel:+49…), else "".
func phoneDigits(id string) string {
	user := strings.TrimPrefix(id, "tel:")
	if i := strings.IndexByte(user, '@'); i > 0 {
		if notPhoneHosts[strings.ToLower(user[i+1:])] {
			return ""
		}
		user = user[:i]
	}
	if strings.HasPrefix(user, "@") { // Matrix localpart
		user = user[1:]
		if i := strings.IndexByte(user, ':'); i >= 0 {
			user = user[:i]
		}
	}
	var b strings.Builder
	for _, r := range user {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return ""
		}
	}
	if b.Len() < 7 {
		return ""
	}
	return b.String()
}

func normName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func (g *ingester) loadReach() error {
	if g.reachLoaded {
		return nil
	}
	var r int
	var server string
	err := g.row(`SELECT reachability, server FROM account_settings WHERE account = ?`, g.account).Scan(&r, &server)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	g.reach = Reachability(r)
	g.ownServer = server
	if g.ownServer == "" {
		g.ownServer = serverOf(g.account)
	}
	g.reachLoaded = true
	return nil
}

// reachable applies the account's reachability to a sender the user has not
// accepted.
func (g *ingester) reachable(from protocols.Address, id *identRow) (bool, error) {
	if id != nil && (id.consent == ConsentAccepted || id.contact) {
		return true, nil
	}
	if err := g.loadReach(); err != nil {
		return false, err
	}
	switch g.reach {
	case ContactsOnly:
		return false, nil
	case OwnServerOnly:
		s := addrServer(from)
		return s != "" && s == g.ownServer, nil
	}
	return true, nil
}

// gate says how admit treats a sender.
type gate struct {
	// blocks: a blocked identity's event is dropped.
	blocks bool
	// reach: a sender the user has not accepted must be within the
	// account's reachability (contacts only, own server, anyone).
	reach bool
	// create makes an identity (and a person named name) for a new sender.
	create bool
	name   string
}

var (
	// admitStranger: someone writing or asking first.
	admitStranger = gate{blocks: true, reach: true, create: true}
	// admitOwn: the user acted (wrote, or listed them as a contact).
	admitOwn = gate{create: true}
	// admitMember: a room member (joining was consent to the room), or
	// whose key changed: only a block keeps them out.
	admitMember = gate{blocks: true}
)

func (g gate) named(name string) gate { g.name = name; return g }

// admit is the one step every event from someone passes: their identity →
// blocked? → reachable? → created if new, as the gate says. ok false means
// drop the event; nothing about the sender is stored then.
func (g *ingester) admit(net protocols.Network, from protocols.Address, gt gate) (r *identRow, ok bool, err error) {
	if r, err = g.ident(net, from, false, ""); err != nil {
		return nil, false, err
	}
	if gt.blocks && r != nil && r.consent == ConsentBlocked {
		return nil, false, nil
	}
	if gt.reach {
		if ok, err := g.reachable(from, r); err != nil || !ok {
			if err == nil {
				g.in.log.Debug().Str("account", g.account).Msg("dropped an event: sender outside reachability")
			}
			return nil, false, err
		}
	}
	if r == nil && gt.create {
		if r, err = g.ident(net, from, true, gt.name); err != nil {
			return nil, false, err
		}
	}
	return r, true, nil
}

// ident finds the identity of addr; with create it makes one (and a new
// person) when missing.
func (g *ingester) ident(net protocols.Network, a protocols.Address, create bool, name string) (*identRow, error) {
	key := identKey{net, a.ID}
	// A nil entry: looked up in this batch, no such identity.
	r, known := g.idents[key]
	if known && (r != nil || !create) {
		return r, nil
	}
	var err error
	if known {
		err = sql.ErrNoRows
	} else {
		r = &identRow{}
		var consent, enc, contact int
		var lastNet string
		err = g.row(`SELECT i.id, i.person_id, i.consent, i.contact, i.encryption, i.name, p.last_network, p.name
			FROM identities i JOIN people p ON p.id = i.person_id WHERE i.network = ? AND i.addr_id = ?`,
			string(net), a.ID).Scan(&r.id, &r.person, &consent, &contact, &enc, &r.name, &lastNet, &r.personNm)
		if err == nil {
			r.consent, r.contact, r.enc, r.lastNet = Consent(consent), contact == 1, protocols.Encryption(enc), protocols.Network(lastNet)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		if !create {
			g.idents[key] = nil
			return nil, nil
		}
		pname := name
		if pname == "" {
			pname = a.ID
		}
		res, err := g.exec(`INSERT INTO people(name, norm_name) VALUES (?, ?)`, pname, normName(name))
		if err != nil {
			return nil, err
		}
		pid, _ := res.LastInsertId()
		acc := a.Account
		if acc == "" {
			acc = protocols.AccountID(g.account)
		}
		res, err = g.exec(`INSERT INTO identities(person_id, network, addr_id, account, server, name, phone) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			pid, string(net), a.ID, acc, addrServer(a), name, phoneDigits(a.ID))
		if err != nil {
			return nil, err
		}
		iid, _ := res.LastInsertId()
		r = &identRow{id: iid, person: PersonID(pid), name: name, personNm: pname}
		g.changed(ChangePeople, 0)
	default:
		return nil, err
	}
	g.idents[key] = r
	return r, nil
}

func (g *ingester) setConsent(r *identRow, c Consent) error {
	if r.consent == c {
		return nil
	}
	if _, err := g.exec(`UPDATE identities SET consent = ? WHERE id = ?`, int(c), r.id); err != nil {
		return err
	}
	r.consent = c
	return nil
}
