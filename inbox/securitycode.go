package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"polyglot/protocols"
)

// SecurityCode is the security code of one of a person's identities on a
// network whose contacts are verified by comparing it (WhatsApp's digits,
// XMPP's OMEMO device fingerprints), as the person view shows it.
type SecurityCode struct {
	Identity protocols.Address // Account: the account the code was computed through
	Code     protocols.SecurityCode
	// Unavailable says why there is no code yet ("" when Code is set).
	Unavailable string
}

// SecurityCodes lists the security codes of the person's identities whose
// network compares codes (protocols.CodeComparer). They come from stored
// keys: no account has to be online.
func (in *Inbox) SecurityCodes(ctx context.Context, person PersonID) ([]SecurityCode, error) {
	ids, err := in.identities(person)
	if err != nil {
		return nil, fmt.Errorf("inbox: security codes: %w", err)
	}
	var out []SecurityCode
	for _, id := range ids {
		if id.Consent == ConsentBlocked {
			continue
		}
		account, cc := in.comparerFor(id.Address)
		if cc == nil {
			continue
		}
		peer := id.Address
		peer.Account = protocols.AccountID(account)
		sc := SecurityCode{Identity: peer}
		code, err := cc.SecurityCode(ctx, peer)
		switch {
		case errors.Is(err, protocols.ErrUnsupported):
			continue // this account does not encrypt end to end (e.g. XMPP without OMEMO)
		case errors.Is(err, protocols.ErrUnknownPeer):
			sc.Unavailable = "no key of theirs yet: the code appears after the first message"
		case err != nil:
			sc.Unavailable = err.Error()
		default:
			sc.Code = code
		}
		out = append(out, sc)
	}
	return out, nil
}

// comparerFor is an attached account of a's network whose connector
// compares security codes; the account a was seen through goes first.
func (in *Inbox) comparerFor(a protocols.Address) (string, protocols.CodeComparer) {
	in.mu.Lock()
	defer in.mu.Unlock()
	names := make([]string, 0, len(in.conns))
	for name := range in.conns {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if (protocols.AccountID(names[i]) == a.Account) != (protocols.AccountID(names[j]) == a.Account) {
			return protocols.AccountID(names[i]) == a.Account
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		c := in.conns[name]
		if cc, ok := c.(protocols.CodeComparer); ok && c.Network() == a.Network {
			return name, cc
		}
	}
	return "", nil
}

// MarkCodeCompared records the user's word that the security code digits
// (as SecurityCodes showed them) match the contact's screen: the identity
// becomes E2EE verified, for the router and the person view, until the
// contact's key changes. A code that changed meanwhile is refused
// (protocols.ErrCodeChanged).
func (in *Inbox) MarkCodeCompared(ctx context.Context, peer protocols.Address, digits string) error {
	account, cc := in.comparerFor(peer)
	if cc == nil {
		return fmt.Errorf("inbox: mark compared: no %s account compares security codes: %w", peer.Network, protocols.ErrUnsupported)
	}
	peer.Account = protocols.AccountID(account)
	if err := cc.MarkCompared(ctx, peer, digits); err != nil {
		return fmt.Errorf("inbox: mark compared: %w", err)
	}
	var n int64
	err := in.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE identities SET encryption = ? WHERE network = ? AND addr_id = ?`,
			int(protocols.EncE2EEVerified), string(peer.Network), peer.ID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return fmt.Errorf("inbox: mark compared: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("inbox: mark compared: no identity %s: %w", peer.Key(), ErrNotFound)
	}
	in.publish(Change{Kind: ChangePeople})
	return nil
}
