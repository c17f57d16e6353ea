package inbox

import (
	"fmt"
	"strings"

	"polyglot/protocols"
)

func (g *ingester) contact(e protocols.ContactEvent) error {
	net := g.network(e.Contact)
	gt := admitOwn.named(e.Name) // the user's own contact list
	if e.Removed {
		gt = gate{} // a lookup: nothing to make for a removal
	}
	r, _, err := g.admit(net, e.Contact, gt)
	if err != nil || r == nil {
		return err
	}
	// The batch's cached row follows every change, so later messages of
	// the batch see it (e.g. carry the roster name).
	if e.Removed {
		_, err := g.exec(`UPDATE identities SET contact = 0 WHERE id = ?`, r.id)
		r.contact = false
		g.changed(ChangePeople, 0)
		return err
	}
	if _, err := g.exec(`UPDATE identities SET contact = 1, name = CASE WHEN ? <> '' THEN ? ELSE name END WHERE id = ?`, e.Name, e.Name, r.id); err != nil {
		return err
	}
	r.contact = true
	if e.Name != "" {
		r.name = e.Name
	}
	if e.Name != "" && r.personNm == e.Contact.ID {
		// The person still carries its address as name: the roster name is better.
		if _, err := g.exec(`UPDATE people SET name = ?, norm_name = ? WHERE id = ?`, e.Name, normName(e.Name), r.person); err != nil {
			return err
		}
		if _, err := g.exec(`UPDATE conversations SET title = ? WHERE kind = 1 AND person_id = ?`, e.Name, r.person); err != nil {
			return err
		}
		r.personNm = e.Name
	}
	// The user's own contact list counts as acceptance (a block stands).
	if r.consent != ConsentBlocked {
		if err := g.setConsent(r, ConsentAccepted); err != nil {
			return err
		}
		if _, err := g.exec(`UPDATE conversations SET request = 0 WHERE kind = 1 AND person_id = ? AND request = 1`, r.person); err != nil {
			return err
		}
		delete(g.direct, r.person)
	}
	g.changed(ChangePeople, 0)
	g.changed(ChangeConversations, 0)
	g.changed(ChangeRequests, 0)
	return nil
}

// adoptName takes the name a network gives a sender (a WhatsApp push
// name) for their identity when it has none, and for their person while
// it still carries the address as name: merge suggestions compare names,
// and an address matches nobody.
func (g *ingester) adoptName(r *identRow, a protocols.Address, name string) error {
	if r.name == "" {
		if _, err := g.exec(`UPDATE identities SET name = ? WHERE id = ?`, name, r.id); err != nil {
			return err
		}
		r.name = name
		g.changed(ChangePeople, 0)
	}
	if r.personNm != a.ID {
		return nil
	}
	if _, err := g.exec(`UPDATE people SET name = ?, norm_name = ? WHERE id = ?`, name, normName(name), r.person); err != nil {
		return err
	}
	if _, err := g.exec(`UPDATE conversations SET title = ? WHERE kind = 1 AND person_id = ?`, name, r.person); err != nil {
		return err
	}
	r.personNm = name
	g.changed(ChangePeople, 0)
	g.changed(ChangeConversations, 0)
	return nil
}

func (g *ingester) request(e protocols.RequestEvent) error {
	net := g.network(e.From)
	r, ok, err := g.admit(net, e.From, admitStranger.named(e.Name))
	if err != nil || !ok {
		return err
	}
	at := e.At
	if at.IsZero() {
		at = g.now
	}
	var conv ConversationID
	var preview string
	if e.Chat.Group {
		if conv, err = g.groupConv(net, e.Chat); err != nil {
			return err
		}
		if r.consent != ConsentAccepted {
			res, err := g.exec(`UPDATE conversations SET request = 1, request_kind = ?, request_from = ? WHERE id = ? AND last_at = 0`,
				int(e.Kind), r.id, conv)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 && r.consent != ConsentIgnored {
				g.changed(ChangeIncoming, conv)
			}
		}
		name := e.Chat.Name
		if name == "" {
			name = string(e.Chat.ID)
		}
		preview = "invited you to " + name
	} else {
		var request bool
		if conv, request, err = g.directConv(r); err != nil {
			return err
		}
		if err := g.mapChat(net, string(e.Chat.ID), conv, false); err != nil {
			return err
		}
		if r.consent == ConsentAccepted {
			// Already accepted: answer nothing here, the user decided before.
			return nil
		}
		if !request {
			marked, err := g.markRequest(conv, r, e.Kind)
			if err != nil {
				return err
			}
			if marked && r.consent != ConsentIgnored {
				g.changed(ChangeIncoming, conv)
			}
		}
		switch e.Kind {
		case protocols.RequestSubscription:
			preview = "wants to add you as a contact"
		case protocols.RequestInvite:
			preview = "invited you to a chat"
		default:
			preview = "sent a message request"
		}
	}
	d := g.delta(conv)
	if toNanos(at) >= d.lastAt {
		d.lastAt, d.preview = toNanos(at), preview
	}
	g.changed(ChangeRequests, 0)
	return nil
}

func (g *ingester) chat(e protocols.ChatEvent) error {
	net := g.network(protocols.Address{})
	if len(e.Members) > 0 && e.Members[0].Network != "" {
		net = e.Members[0].Network
	}
	if e.Chat.Group {
		conv, err := g.groupConv(net, e.Chat)
		if err != nil {
			return err
		}
		if _, err := g.exec(`UPDATE conversations SET title = CASE WHEN ? <> '' THEN ? ELSE title END, encryption = ? WHERE id = ?`,
			e.Chat.Name, e.Chat.Name, int(e.Encryption), conv); err != nil {
			return err
		}
		g.changed(ChangeConversations, 0)
		g.changed(ChangeMessages, conv)
		return nil
	}
	// A 1:1 room (Matrix DM): map it to the one other member we know.
	var peer *identRow
	for _, m := range e.Members {
		if m.ID == g.account {
			continue
		}
		r, err := g.ident(net, m, false, "")
		if err != nil {
			return err
		}
		if r != nil {
			if peer != nil {
				return nil // ambiguous: leave unmapped
			}
			peer = r
		}
	}
	if peer == nil {
		return nil
	}
	conv, _, err := g.directConv(peer)
	if err != nil {
		return err
	}
	return g.mapChat(net, string(e.Chat.ID), conv, false)
}

func (g *ingester) keyChange(e protocols.KeyChangeEvent) error {
	net := g.network(e.Contact)
	r, ok, err := g.admit(net, e.Contact, admitMember)
	if err != nil || !ok {
		return err
	}
	wasVerified := false
	ends := e.Kind == protocols.KeyChanged || e.Kind == protocols.KeyCodeChanged || e.EndsVerification
	if r != nil && ends && r.enc > protocols.EncE2EE {
		// A changed key (or a new device) is not what the user verified:
		// back to E2EE, as Signal does, until they compare again.
		if _, err := g.exec(`UPDATE identities SET encryption = ? WHERE id = ?`, int(protocols.EncE2EE), r.id); err != nil {
			return err
		}
		r.enc, wasVerified = protocols.EncE2EE, true
		g.changed(ChangePeople, 0)
	}
	conv, err := g.chatConv(string(e.Chat))
	if err != nil {
		return err
	}
	if conv == 0 && r != nil {
		if conv, _, err = g.directConv(r); err != nil {
			return err
		}
	}
	if conv == 0 {
		return nil // a stranger's key in no chat of ours
	}
	who := e.Contact.ID
	if r != nil && r.personNm != "" {
		who = r.personNm
	}
	body := fmt.Sprintf("%s: %s", who, e.Kind)
	if e.DeviceID != "" {
		body += " " + e.DeviceID
	}
	if e.Fingerprint != "" {
		body += " (fingerprint " + groupFingerprint(e.Fingerprint) + ")"
	}
	if wasVerified {
		body += " — not verified any more: compare the new code in their person view"
	}
	at := e.At
	if at.IsZero() {
		at = g.now
	}
	if _, err := g.exec(`INSERT INTO messages(conversation_id, kind, network, account, sender, body, at, state)
		VALUES (?, 1, ?, ?, ?, ?, ?, 0)`, conv, string(net), g.account, e.Contact.ID, body, toNanos(at)); err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return nil
}

// groupFingerprint splits a fingerprint into groups of four for reading aloud.
func groupFingerprint(fp string) string {
	fp = strings.ReplaceAll(fp, " ", "")
	var b strings.Builder
	for i, r := range []rune(fp) {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
