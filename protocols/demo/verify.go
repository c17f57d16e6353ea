package demo

import (
	"context"
	"fmt"

	"polyglot/protocols"
)

var _ protocols.Verifier = (*conn)(nil)

// sasEmoji is a slice of the Matrix SAS emoji table, enough for the demo's
// comparisons to look like the real thing.
var sasEmoji = []protocols.SASEmoji{
	{Emoji: "🐶", Description: "Dog"}, {Emoji: "🐱", Description: "Cat"}, {Emoji: "🦁", Description: "Lion"},
	{Emoji: "🐎", Description: "Horse"}, {Emoji: "🦄", Description: "Unicorn"}, {Emoji: "🐷", Description: "Pig"},
	{Emoji: "🐘", Description: "Elephant"}, {Emoji: "🐰", Description: "Rabbit"}, {Emoji: "🐼", Description: "Panda"},
	{Emoji: "🐓", Description: "Rooster"}, {Emoji: "🐧", Description: "Penguin"}, {Emoji: "🐢", Description: "Turtle"},
	{Emoji: "🐟", Description: "Fish"}, {Emoji: "🐙", Description: "Octopus"}, {Emoji: "🦋", Description: "Butterfly"},
	{Emoji: "🌷", Description: "Flower"}, {Emoji: "🌳", Description: "Tree"}, {Emoji: "🌵", Description: "Cactus"},
	{Emoji: "🍄", Description: "Mushroom"}, {Emoji: "🌏", Description: "Globe"}, {Emoji: "🌙", Description: "Moon"},
	{Emoji: "🍎", Description: "Apple"}, {Emoji: "🍌", Description: "Banana"}, {Emoji: "🍇", Description: "Grapes"},
}

// demoVerification is one simulated SAS run with a contact.
type demoVerification struct {
	peer      *peer
	confirmed bool
	ended     bool
}

// StartVerification simulates the contact accepting on their phone: ready
// after 1.5 s, then the emoji; once the user confirms, the contact confirms
// too and the identity becomes E2EE verified. Only networks with Verify.
func (c *conn) StartVerification(ctx context.Context, to protocols.Address) (string, error) {
	if !c.caps.Verify {
		return "", fmt.Errorf("demo %s: %w", c.net, protocols.ErrUnsupported)
	}
	if err := c.linkErr(true); err != nil {
		return "", err
	}
	c.mu.Lock()
	p, ok := c.peers[to.ID]
	if !ok {
		c.mu.Unlock()
		return "", fmt.Errorf("demo %s: %w: %q", c.net, protocols.ErrUnknownPeer, to.ID)
	}
	c.liveCount++
	txn := fmt.Sprintf("demo-verify-%d", c.liveCount)
	if c.verifs == nil {
		c.verifs = map[string]*demoVerification{}
	}
	c.verifs[txn] = &demoVerification{peer: p}
	c.mu.Unlock()
	const device = "PHONE"
	c.sched.after(secs(1.5), c.onLink(func() {
		c.emit(protocols.VerificationEvent{Txn: txn, Peer: p.addr, DeviceID: device, Stage: protocols.VerifyReady})
	}))
	c.sched.after(secs(2.5), c.onLink(func() {
		if c.verifyEnded(txn) {
			return
		}
		r := newRand(c.w.seed, "sas", txn, p.id.id)
		ev := protocols.VerificationEvent{Txn: txn, Peer: p.addr, DeviceID: device, Stage: protocols.VerifyShowSAS}
		for range 7 {
			ev.Emojis = append(ev.Emojis, sasEmoji[r.IntN(len(sasEmoji))])
		}
		for range 3 {
			ev.Decimals = append(ev.Decimals, 1000+r.IntN(8192))
		}
		c.emit(ev)
	}))
	return txn, nil
}

// AcceptVerification is for requests the contact starts; the demo's
// contacts never do.
func (c *conn) AcceptVerification(context.Context, string) error {
	return fmt.Errorf("demo %s: %w: no verification request is waiting", c.net, protocols.ErrUnsupported)
}

// ConfirmVerification: the contact confirms a second later.
func (c *conn) ConfirmVerification(_ context.Context, txn string) error {
	c.mu.Lock()
	v, ok := c.verifs[txn]
	if ok {
		v.confirmed = true
	}
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("demo %s: no verification %q", c.net, txn)
	}
	c.sched.after(secs(1), c.onLink(func() {
		c.mu.Lock()
		if v.ended {
			c.mu.Unlock()
			return
		}
		v.ended = true
		v.peer.id.enc = protocols.EncE2EEVerified
		c.mu.Unlock()
		c.emit(protocols.VerificationEvent{Txn: txn, Peer: v.peer.addr, Stage: protocols.VerifyDone})
		c.keyChange(v.peer.person.key, protocols.KeyVerified, "")
	}))
	return nil
}

// CancelVerification ends it; the contact's side stops too.
func (c *conn) CancelVerification(_ context.Context, txn, reason string) error {
	c.mu.Lock()
	v, ok := c.verifs[txn]
	if ok {
		v.ended = true
	}
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("demo %s: no verification %q", c.net, txn)
	}
	c.emit(protocols.VerificationEvent{Txn: txn, Peer: v.peer.addr, Stage: protocols.VerifyCancelled, Reason: reason})
	return nil
}

func (c *conn) verifyEnded(txn string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.verifs[txn]
	return v == nil || v.ended
}
