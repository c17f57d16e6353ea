package protocols

import (
	"context"
	"errors"
	"sort"
	"strings"
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

// SecurityCode is a contact's security code (safety number), or, on a
// network that encrypts to each device separately (XMPP's OMEMO), the
// fingerprints of the contact's devices and of ours.
type SecurityCode struct {
	Digits   string // 60 digits; empty on a per-device network
	Compared bool   // the user compared these digits, or every device of Devices
	// Devices are the contact's devices a message goes to (per-device
	// networks only); OwnDevices the user's other devices; This the
	// device the contact compares on their side.
	Devices    []DeviceKey
	OwnDevices []DeviceKey
	This       DeviceKey
}

// DeviceKey is one device's identity key.
type DeviceKey struct {
	ID          string
	Fingerprint string // lowercase hex, as the other clients print it
	Compared    bool   // the user compared this fingerprint
}

// Comparable says there is something for the user to compare.
func (c SecurityCode) Comparable() bool { return c.Digits != "" || len(c.Devices) > 0 }

// Token is what MarkCompared gets back: the digits, or every device with
// its fingerprint, so a device added or changed since the screen showed
// them is refused (ErrCodeChanged) rather than marked compared unseen.
func (c SecurityCode) Token() string {
	if c.Digits != "" {
		return c.Digits
	}
	parts := make([]string, len(c.Devices))
	for i, d := range c.Devices {
		parts[i] = d.ID + "=" + d.Fingerprint
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
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
