package protocols

import (
	"context"
	"errors"
)

// Verifier is implemented by connectors that can verify a contact's keys
// interactively by comparing a short authentication string (SAS emoji), so
// that the contact's class becomes EncE2EEVerified. The flow:
// StartVerification (or an incoming VerificationEvent{Stage: VerifyRequested})
// → AcceptVerification on the other side → both get VerifyShowSAS with the
// emoji → each user compares and calls ConfirmVerification or
// CancelVerification → both get VerifyDone (or VerifyCancelled).
type Verifier interface {
	StartVerification(ctx context.Context, peer Address) (txn string, err error)
	AcceptVerification(ctx context.Context, txn string) error
	ConfirmVerification(ctx context.Context, txn string) error
	CancelVerification(ctx context.Context, txn, reason string) error
}

// VerifyStage is where an interactive verification stands.
type VerifyStage int

const (
	VerifyRequested VerifyStage = iota + 1 // the peer asks us to verify (answer with Accept or Cancel)
	VerifyReady                            // both sides agreed; SAS is being set up
	VerifyShowSAS                          // compare Emojis (or Decimals) with the peer
	VerifyDone                             // keys verified on both sides
	VerifyCancelled                        // Reason says why
)

func (s VerifyStage) String() string {
	switch s {
	case VerifyRequested:
		return "requested"
	case VerifyReady:
		return "ready"
	case VerifyShowSAS:
		return "compare emoji"
	case VerifyDone:
		return "verified"
	case VerifyCancelled:
		return "cancelled"
	}
	return "verification"
}

// SASEmoji is one emoji of a short authentication string with its name.
type SASEmoji struct {
	Emoji       string
	Description string
}

// VerificationEvent reports progress of an interactive verification.
type VerificationEvent struct {
	Txn      string
	Peer     Address
	DeviceID string
	Stage    VerifyStage
	Emojis   []SASEmoji // VerifyShowSAS
	Decimals []int      // VerifyShowSAS
	Reason   string     // VerifyCancelled
}

func (VerificationEvent) isEvent() {}

// CodeComparer is implemented by connectors whose contacts are verified by
// comparing a security code out of band, as WhatsApp and Signal do: both
// phones show the same 60 digits, derived from both identity keys. The
// user reads them against the contact's screen and marks them compared;
// the contact's class is EncE2EEVerified from then on, until their
// identity key changes (a KeyChangeEvent of kind KeyCodeChanged).
type CodeComparer interface {
	// SecurityCode is peer's code now, from stored keys (no network).
	// ErrUnknownPeer: no identity key of peer is known yet (no message
	// exchanged).
	SecurityCode(ctx context.Context, peer Address) (SecurityCode, error)
	// MarkCompared records that the user compared code with peer. A code
	// that no longer matches the current keys is refused with
	// ErrCodeChanged: the user compared an old one.
	MarkCompared(ctx context.Context, peer Address, code string) error
}

// ErrCodeChanged: the security code changed since it was shown.
var ErrCodeChanged = errors.New("the security code changed since it was shown; compare the new one")

// SecurityCode is a contact's security code (safety number).
type SecurityCode struct {
	Digits   string // 60 digits
	Compared bool   // the user marked these digits compared
}

// Groups splits the digits into groups of five, the way both apps show
// them (12 groups for 60 digits).
func (c SecurityCode) Groups() []string {
	var out []string
	for d := c.Digits; d != ""; {
		n := min(5, len(d))
		out = append(out, d[:n])
		d = d[n:]
	}
	return out
}
