package protocols

import "context"

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
