package whatsapp

import (
	"context"
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"polyglot/protocols"
)

// ParseAddress accepts what a user types for a WhatsApp contact — a phone
// number in international form (+49 170 1234567) — or a JID
// (4917012345670@s.whatsapp.net, 1203…@g.us for a group).
func ParseAddress(s string) (types.JID, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "@") {
		j, err := types.ParseJID(s)
		if err != nil {
			return types.JID{}, fmt.Errorf("not a WhatsApp address: %w", err)
		}
		return j.ToNonAD(), nil
	}
	digits := PhoneDigits(s)
	if digits == "" {
		return types.JID{}, fmt.Errorf("not a WhatsApp address %q: want a phone number like +4917012345678", s)
	}
	return types.NewJID(digits, types.DefaultUserServer), nil
}

// PhoneDigits keeps the digits of a phone number written with +, spaces,
// dashes, dots or brackets; anything else makes it no phone number ("").
func PhoneDigits(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	if b.Len() < 6 || b.Len() > 15 {
		return ""
	}
	return b.String()
}

func (c *Connector) address(j types.JID) protocols.Address {
	j = j.ToNonAD()
	return protocols.Address{Network: protocols.WhatsApp, Account: protocols.AccountID(c.cfg.Account), ID: j.String(), Server: j.Server}
}

// phoneJID prefers the phone-number form of a user: WhatsApp addresses
// some chats by a LID (an opaque ID) and sends the phone number alongside
// (alt) or in whatsmeow's LID map. People are merged by phone number, and
// the user typed phone numbers, so a LID is kept only when nothing maps it.
func (c *Connector) phoneJID(ctx context.Context, j, alt types.JID) types.JID {
	j = j.ToNonAD()
	if j.Server != types.HiddenUserServer {
		return j
	}
	if !alt.IsEmpty() && alt.Server == types.DefaultUserServer {
		return alt.ToNonAD()
	}
	if c.cli != nil && c.cli.Store != nil && c.cli.Store.LIDs != nil {
		if pn, err := c.cli.Store.LIDs.GetPNForLID(ctx, j); err == nil && !pn.IsEmpty() {
			return pn.ToNonAD()
		}
	}
	return j
}
