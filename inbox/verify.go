package inbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"polyglot/protocols"
)

// Verification is an interactive key verification (SAS emoji) with a
// contact, as the TUI shows it. It lives in memory only: a verification
// interrupted by a restart is simply started again.
type Verification struct {
	Txn     string
	Account string
	Peer    protocols.Address // Peer.Account is the account it runs on
	Person  PersonID          // 0 when the peer is not a known person
	Name    string            // the person's display name (raw); "" when unknown
	// Conversation is the person's direct conversation, 0 if none.
	Conversation ConversationID
	DeviceID     string
	Incoming     bool // the peer asked; the user answers with Accept
	Stage        protocols.VerifyStage
	Emojis       []protocols.SASEmoji
	Decimals     []int
	Reason       string // why it was cancelled
	// Confirmed: the user said the emoji match; the peer has not yet.
	Confirmed bool
	Updated   time.Time
}

// Active reports whether the verification can still change.
func (v Verification) Active() bool {
	return v.Stage != protocols.VerifyDone && v.Stage != protocols.VerifyCancelled
}

// NeedsUser reports whether the verification waits for the user: an
// incoming request to answer, or emoji to compare.
func (v Verification) NeedsUser() bool {
	return (v.Stage == protocols.VerifyRequested && v.Incoming) || (v.Stage == protocols.VerifyShowSAS && !v.Confirmed)
}

// ErrCannotVerify says none of a person's networks can verify keys
// interactively through an account that is online now.
var ErrCannotVerify = errors.New("no online account can verify this contact's keys (Matrix can)")

// maxEndedVerifications bounds how many finished verifications are kept
// for the screen to show their outcome.
const maxEndedVerifications = 8

// verifications is the in-memory table, guarded by Inbox.mu.
type verifications map[string]*Verification

// Verifications lists the verifications in progress and the few that just
// ended, newest first.
func (in *Inbox) Verifications() []Verification {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Verification, 0, len(in.verifs))
	for _, v := range in.verifs {
		c := *v
		c.Emojis = append([]protocols.SASEmoji(nil), v.Emojis...)
		c.Decimals = append([]int(nil), v.Decimals...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].Txn > out[j].Txn
	})
	return out
}

// DismissVerification forgets a verification that has ended.
func (in *Inbox) DismissVerification(txn string) {
	in.mu.Lock()
	v, ok := in.verifs[txn]
	if ok && !v.Active() {
		delete(in.verifs, txn)
	}
	in.mu.Unlock()
	if ok {
		in.publish(Change{Kind: ChangeVerification})
	}
}

// StartVerification asks a person to verify keys, on the first of their
// accepted identities whose account can verify and is online. Their answer
// arrives as a change.
func (in *Inbox) StartVerification(ctx context.Context, person PersonID) (Verification, error) {
	p, err := in.Person(person)
	if err != nil {
		return Verification{}, err
	}
	var conv ConversationID
	_ = in.db.QueryRow(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, person).Scan(&conv)
	for _, id := range p.Identities {
		if id.Consent != ConsentAccepted {
			continue
		}
		account, vf := in.verifierFor(id.Address)
		if vf == nil {
			continue
		}
		peer := id.Address
		peer.Account = protocols.AccountID(account)
		txn, err := vf.StartVerification(ctx, peer)
		if err != nil {
			return Verification{}, fmt.Errorf("inbox: start verification: %w", err)
		}
		v := Verification{Txn: txn, Account: account, Peer: peer, Person: p.ID, Name: p.Name,
			Conversation: conv, Stage: protocols.VerifyRequested, Updated: in.now()}
		in.mu.Lock()
		if cur, ok := in.verifs[txn]; ok {
			// The connector's first event won the race: keep its stage.
			cur.Person, cur.Name, cur.Conversation = v.Person, v.Name, v.Conversation
			v = *cur
		} else {
			in.verifs[txn] = &v
		}
		in.mu.Unlock()
		in.publish(Change{Kind: ChangeVerification})
		return v, nil
	}
	for _, id := range p.Identities {
		if _, cc := in.comparerFor(id.Address); cc != nil && id.Consent != ConsentBlocked {
			return Verification{}, fmt.Errorf("%w; for %s, compare the security code in their person view (p)", ErrCannotVerify, id.Address.Network)
		}
	}
	return Verification{}, ErrCannotVerify
}

// verifierFor is an online account of a's network whose connector verifies.
func (in *Inbox) verifierFor(a protocols.Address) (string, protocols.Verifier) {
	in.mu.Lock()
	defer in.mu.Unlock()
	names := make([]string, 0, len(in.conns))
	for name := range in.conns {
		names = append(names, name)
	}
	sort.Strings(names)
	if a.Account != "" {
		// The account the identity was seen through goes first.
		for i, n := range names {
			if protocols.AccountID(n) == a.Account {
				names[0], names[i] = names[i], names[0]
			}
		}
	}
	for _, name := range names {
		c := in.conns[name]
		vf, ok := c.(protocols.Verifier)
		if !ok || c.Network() != a.Network || !c.Capabilities().Verify || in.states[name].State != protocols.ConnOnline {
			continue
		}
		return name, vf
	}
	return "", nil
}

// AcceptVerification answers the peer's request: the emoji follow.
func (in *Inbox) AcceptVerification(ctx context.Context, txn string) error {
	return in.verifyStep(ctx, txn, "accept", func(vf protocols.Verifier) error { return vf.AcceptVerification(ctx, txn) },
		func(v *Verification) { v.Stage = protocols.VerifyReady })
}

// ConfirmVerification says the emoji on both screens match.
func (in *Inbox) ConfirmVerification(ctx context.Context, txn string) error {
	return in.verifyStep(ctx, txn, "confirm", func(vf protocols.Verifier) error { return vf.ConfirmVerification(ctx, txn) },
		func(v *Verification) { v.Confirmed = true })
}

// CancelVerification stops a verification (the emoji differ, or the user
// declines); the peer is told why.
func (in *Inbox) CancelVerification(ctx context.Context, txn, reason string) error {
	return in.verifyStep(ctx, txn, "cancel", func(vf protocols.Verifier) error { return vf.CancelVerification(ctx, txn, reason) },
		func(v *Verification) {
			v.Stage, v.Reason = protocols.VerifyCancelled, reason
		})
}

func (in *Inbox) verifyStep(_ context.Context, txn, what string, call func(protocols.Verifier) error, after func(*Verification)) error {
	in.mu.Lock()
	v, ok := in.verifs[txn]
	var vf protocols.Verifier
	if ok {
		vf, _ = in.conns[v.Account].(protocols.Verifier)
	}
	in.mu.Unlock()
	if !ok {
		return fmt.Errorf("inbox: %s verification: %w", what, ErrNotFound)
	}
	if vf == nil {
		return fmt.Errorf("inbox: %s verification: %s: %w", what, v.Account, protocols.ErrNotConnected)
	}
	if err := call(vf); err != nil {
		return fmt.Errorf("inbox: %s verification: %w", what, err)
	}
	in.mu.Lock()
	if v, ok := in.verifs[txn]; ok && v.Active() {
		after(v)
		v.Updated = in.now()
	}
	in.mu.Unlock()
	in.publish(Change{Kind: ChangeVerification})
	return nil
}

// onVerification records a connector's verification progress. A request
// from someone the user has not accepted is dropped (it times out on their
// side): consent comes before any key exchange.
func (in *Inbox) onVerification(account string, e protocols.VerificationEvent) {
	in.mu.Lock()
	v, known := in.verifs[e.Txn]
	in.mu.Unlock()
	if !known {
		if e.Stage != protocols.VerifyRequested {
			in.log.Debug().Str("account", account).Str("stage", e.Stage.String()).Msg("verification event for an unknown transaction")
			return
		}
		peer := e.Peer
		if peer.Network == "" {
			peer.Network = in.accountNetwork(account)
		}
		peer.Account = protocols.AccountID(account)
		if !in.identityAccepted(peer) {
			in.log.Info().Str("account", account).Msg("verification request from someone not accepted: ignored")
			return
		}
		v = &Verification{Txn: e.Txn, Account: account, Peer: peer, Incoming: true}
		in.describePeer(v)
	}
	in.mu.Lock()
	if !known {
		if cur, ok := in.verifs[e.Txn]; ok {
			v = cur
		} else {
			in.verifs[e.Txn] = v
		}
	}
	if e.DeviceID != "" {
		v.DeviceID = e.DeviceID
	}
	if v.Active() {
		v.Stage = e.Stage
	}
	if e.Stage == protocols.VerifyShowSAS {
		v.Emojis, v.Decimals = e.Emojis, e.Decimals
	}
	if e.Stage == protocols.VerifyCancelled {
		v.Reason = e.Reason
	}
	v.Updated = in.now()
	in.pruneVerificationsLocked()
	in.mu.Unlock()
	changes := []Change{{Kind: ChangeVerification}}
	if e.Stage == protocols.VerifyDone {
		// The peer's class rose: routes and the person view re-read it.
		changes = append(changes, Change{Kind: ChangePeople})
	}
	in.publish(changes...)
}

// describePeer fills the person, name and direct conversation of v.
func (in *Inbox) describePeer(v *Verification) {
	p, err := in.PersonOf(v.Peer)
	if err != nil {
		return
	}
	v.Person = p
	if per, err := in.Person(p); err == nil {
		v.Name = per.Name
	}
	_ = in.db.QueryRow(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, p).Scan(&v.Conversation)
}

// pruneVerificationsLocked drops the oldest ended verifications beyond
// maxEndedVerifications.
func (in *Inbox) pruneVerificationsLocked() {
	var ended []*Verification
	for _, v := range in.verifs {
		if !v.Active() {
			ended = append(ended, v)
		}
	}
	if len(ended) <= maxEndedVerifications {
		return
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].Updated.Before(ended[j].Updated) })
	for _, v := range ended[:len(ended)-maxEndedVerifications] {
		delete(in.verifs, v.Txn)
	}
}
