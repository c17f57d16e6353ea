package matrix

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/crypto/verificationhelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

// verifyInfo remembers who a verification transaction is with.
type verifyInfo struct {
	peer      id.UserID
	device    id.DeviceID
	initiator bool
}

func (c *Connector) verifierOrErr() (*verificationhelper.VerificationHelper, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.verifier == nil || c.cancel == nil {
		return nil, protocols.ErrNotConnected
	}
	return c.verifier, nil
}

// StartVerification asks every device of peer (a Matrix user, possibly
// ourselves for another own device) to verify by SAS emoji.
func (c *Connector) StartVerification(ctx context.Context, peer protocols.Address) (string, error) {
	vh, err := c.verifierOrErr()
	if err != nil {
		return "", err
	}
	u := id.UserID(peer.ID)
	if _, _, err := u.Parse(); err != nil {
		return "", fmt.Errorf("%w: %q", protocols.ErrUnknownPeer, peer.ID)
	}
	txn, err := vh.StartVerification(ctx, u)
	if err != nil {
		return "", fmt.Errorf("matrix: starting verification: %w", err)
	}
	c.mu.Lock()
	c.verifyTxn[txn.String()] = verifyInfo{peer: u, initiator: true}
	c.mu.Unlock()
	return txn.String(), nil
}

// AcceptVerification answers an incoming request (sends ready).
func (c *Connector) AcceptVerification(ctx context.Context, txn string) error {
	vh, err := c.verifierOrErr()
	if err != nil {
		return err
	}
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()
	return vh.AcceptVerification(ctx, id.VerificationTransactionID(txn))
}

// ConfirmVerification says the emoji match.
func (c *Connector) ConfirmVerification(ctx context.Context, txn string) error {
	vh, err := c.verifierOrErr()
	if err != nil {
		return err
	}
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()
	if err := vh.ConfirmSAS(ctx, id.VerificationTransactionID(txn)); err != nil {
		return err
	}
	c.confirmed[txn] = true
	held := c.heldMAC[txn]
	delete(c.heldMAC, txn)
	for _, handle := range held {
		handle()
	}
	return nil
}

// CancelVerification stops a verification (e.g. the emoji differ).
func (c *Connector) CancelVerification(ctx context.Context, txn, reason string) error {
	vh, err := c.verifierOrErr()
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "cancelled by the user"
	}
	code := event.VerificationCancelCodeUser
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()
	c.forgetVerification(txn)
	return vh.CancelVerification(ctx, id.VerificationTransactionID(txn), code, reason)
}

// forgetVerification drops what the MAC ordering kept for txn; verifyMu
// is held.
func (c *Connector) forgetVerification(txn string) {
	delete(c.confirmed, txn)
	delete(c.heldMAC, txn)
}

// verifyCallbacks turns verificationhelper callbacks into VerificationEvents.
type verifyCallbacks struct{ c *Connector }

func (v *verifyCallbacks) event(txn id.VerificationTransactionID, stage protocols.VerifyStage) protocols.VerificationEvent {
	v.c.mu.RLock()
	info := v.c.verifyTxn[txn.String()]
	v.c.mu.RUnlock()
	return protocols.VerificationEvent{Txn: txn.String(), Peer: userAddress(info.peer), DeviceID: info.device.String(), Stage: stage}
}

func (v *verifyCallbacks) VerificationRequested(_ context.Context, txn id.VerificationTransactionID, from id.UserID, fromDevice id.DeviceID) {
	v.c.mu.Lock()
	v.c.verifyTxn[txn.String()] = verifyInfo{peer: from, device: fromDevice}
	v.c.mu.Unlock()
	v.c.emit(v.event(txn, protocols.VerifyRequested))
}

func (v *verifyCallbacks) VerificationReady(ctx context.Context, txn id.VerificationTransactionID, otherDevice id.DeviceID, supportsSAS, _ bool, _ *verificationhelper.QRCode) {
	v.c.mu.Lock()
	info := v.c.verifyTxn[txn.String()]
	info.device = otherDevice
	v.c.verifyTxn[txn.String()] = info
	v.c.mu.Unlock()
	v.c.emit(v.event(txn, protocols.VerifyReady))
	// SAS is the only method we offer: the side that asked starts it. Not on
	// the sync goroutine: StartSAS sends to-device events and waits.
	if info.initiator && supportsSAS {
		v.c.wg.Add(1)
		go func() {
			defer v.c.wg.Done()
			vh, err := v.c.verifierOrErr()
			if err == nil {
				v.c.verifyMu.Lock()
				err = vh.StartSAS(v.c.backgroundCtx(), txn)
				v.c.verifyMu.Unlock()
			}
			if err != nil {
				ev := v.event(txn, protocols.VerifyCancelled)
				ev.Reason = "could not start emoji comparison: " + err.Error()
				v.c.emit(ev)
			}
		}()
	}
}

func (v *verifyCallbacks) ShowSAS(_ context.Context, txn id.VerificationTransactionID, emojis []rune, descriptions []string, decimals []int) {
	ev := v.event(txn, protocols.VerifyShowSAS)
	for i, e := range emojis {
		d := ""
		if i < len(descriptions) {
			d = descriptions[i]
		}
		ev.Emojis = append(ev.Emojis, protocols.SASEmoji{Emoji: string(e), Description: d})
	}
	ev.Decimals = decimals
	v.c.emit(ev)
}

func (v *verifyCallbacks) VerificationCancelled(_ context.Context, txn id.VerificationTransactionID, code event.VerificationCancelCode, reason string) {
	ev := v.event(txn, protocols.VerifyCancelled)
	ev.Reason = fmt.Sprintf("%s (%s)", reason, code)
	v.c.emit(ev)
}

func (v *verifyCallbacks) VerificationDone(ctx context.Context, txn id.VerificationTransactionID, _ event.VerificationMethod) {
	ev := v.event(txn, protocols.VerifyDone)
	u := id.UserID(ev.Peer.ID)
	v.c.refreshTrust(ctx, u)
	v.c.emit(ev)
	if u != "" && u != v.c.cli.UserID {
		v.c.emitKeyChange(ctx, u, id.DeviceID(ev.DeviceID), "", protocols.KeyVerified, time.Now())
		if room, ok := v.c.st.dmRoom(ctx, u); ok {
			v.c.markDirty(room)
			v.c.flushRooms(ctx)
		}
	}
}
