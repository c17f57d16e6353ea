// Package protocols is the network-neutral vocabulary every connector speaks:
// addresses, messages, events, encryption classes, capabilities and the
// Connector interface. It imports nothing else of ours.
package protocols

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Network names a messaging network.
type Network string

const (
	Matrix   Network = "matrix"
	XMPP     Network = "xmpp"
	WhatsApp Network = "whatsapp"
)

// Networks lists the networks Polyglot knows, in display order.
var Networks = []Network{Matrix, XMPP, WhatsApp}

// ParseNetwork accepts a network name case-insensitively.
func ParseNetwork(s string) (Network, error) {
	n := Network(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Networks {
		if n == k {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown network %q (want matrix, xmpp or whatsapp)", s)
}

// ChatID names a conversation on one network: a Matrix room ID, an XMPP
// bare JID or MUC, a WhatsApp chat JID. The ID types below keep one kind
// of identifier from being passed where another is expected.
type ChatID string

// MessageID is the network's ID of a message: a Matrix event ID, an XMPP
// stanza-id or origin-id, a WhatsApp message ID.
type MessageID string

// ClientID is our own transaction ID for a message we send; it stays the
// same across retries, so the peer sees the message once.
type ClientID string

// AccountID names one of the user's own accounts (its config entry), e.g.
// "xmpp:alice@example.org".
type AccountID string

// Address is one identity on one network, e.g. @bob:example.org on Matrix,
// bob@example.org on XMPP or 4915123456789@s.whatsapp.net on WhatsApp.
type Address struct {
	Network Network
	// Account is the user's own account this address was seen through
	// (an accounts ID); empty when the address stands on its own.
	Account AccountID
	// ID is the network-native identifier of the contact or room.
	ID string
	// Server is the homeserver / domain that hosts the identity.
	Server string
}

// Key identifies the address independent of the account it was seen through.
func (a Address) Key() string { return string(a.Network) + ":" + a.ID }

func (a Address) String() string { return a.Key() }

// IsZero reports whether the address is empty.
func (a Address) IsZero() bool { return a.ID == "" }

// Encryption is the protection class a message travels with. The order is
// meaningful: a larger value is strictly better.
type Encryption int

const (
	EncNone         Encryption = iota // plaintext on the wire
	EncTransport                      // TLS to the server, readable by servers
	EncE2EE                           // end-to-end, peer's keys not verified
	EncE2EEVerified                   // end-to-end, peer verified
)

// Encryptions lists every class from weakest to strongest.
var Encryptions = []Encryption{EncNone, EncTransport, EncE2EE, EncE2EEVerified}

func (e Encryption) String() string {
	switch e {
	case EncNone:
		return "none"
	case EncTransport:
		return "transport"
	case EncE2EE:
		return "e2ee"
	case EncE2EEVerified:
		return "e2ee-verified"
	}
	return fmt.Sprintf("encryption(%d)", int(e))
}

// Label is the short human text shown next to a message.
func (e Encryption) Label() string {
	switch e {
	case EncNone:
		return "unencrypted"
	case EncTransport:
		return "TLS only"
	case EncE2EE:
		return "E2EE"
	case EncE2EEVerified:
		return "E2EE verified"
	}
	return e.String()
}

// IsE2EE reports whether only the endpoints can read the message.
func (e Encryption) IsE2EE() bool { return e >= EncE2EE }

// ParseEncryption is the inverse of String.
func ParseEncryption(s string) (Encryption, error) {
	for _, e := range Encryptions {
		if e.String() == s {
			return e, nil
		}
	}
	return EncNone, fmt.Errorf("unknown encryption class %q", s)
}

// Capabilities is what a connector can do; the UI hides what is missing.
type Capabilities struct {
	E2EE        bool // can encrypt end to end at all
	Verify      bool // can verify peers (raising E2EE to E2EEVerified)
	Receipts    bool // delivery receipts
	ReadMarkers bool // read receipts
	Typing      bool
	Presence    bool
	Edits       bool
	Reactions   bool
	Retractions bool
	Replies     bool
	History     bool // FetchHistory works
	Groups      bool
	Attachments bool
	MaxBody     int // bytes; 0 means no known limit
}

// Attachment is metadata only; content is fetched on demand.
type Attachment struct {
	Name     string
	MIME     string
	Size     int64
	URL      string // network-specific locator (mxc://, https://, …)
	Key      string // opaque decryption material reference, if any
	Width    int
	Height   int
	Duration time.Duration
}

// Reaction is one emoji (or key) set on a message by one sender.
type Reaction struct {
	Key    string
	Sender Address
}

// Message is one message as a network delivered it or as we send it.
type Message struct {
	ClientID  ClientID  // our client transaction ID (also what we send as txnId/origin-id)
	NetworkID MessageID // the network's ID (Matrix event ID, XMPP stanza-id, WhatsApp ID)
	Chat      Chat      // where it was posted
	Sender    Address
	Outgoing  bool // sent by the user (possibly from another device)

	Body          string // plain text
	FormattedBody string // HTML (Matrix) or other rich form; rendered sanitized
	Sent          time.Time
	Received      time.Time

	ReplyTo     MessageID // network ID of the message replied to
	EditOf      MessageID // network ID of the message this replaces
	Reactions   []Reaction
	Attachments []Attachment

	Encryption Encryption // what it actually travelled with
	// Undecryptable is set when the payload could not be decrypted (yet).
	Undecryptable bool
	// Notice is a visible explanation attached by the connector (e.g. "body
	// truncated from 1 MiB", "unknown payload dropped").
	Notice string
	// Relayed: a bridge posted it on someone else's behalf (a Matrix
	// per-message profile); a client-side bridge never relays it again.
	Relayed bool
}

// Chat identifies a conversation on one network: a Matrix room, an XMPP bare
// JID or MUC, a WhatsApp chat JID.
type Chat struct {
	ID    ChatID
	Group bool
	Name  string // room/group name if the network has one
	// Peer is the other party of a 1:1 chat whose ID is not their address
	// (a Matrix DM room), so the user's own messages land with the person.
	Peer Address
}

// OutgoingMessage is what the outbox hands a connector.
type OutgoingMessage struct {
	ClientID ClientID // stable across retries: the peer must see the message once
	To       Address  // the peer (1:1) or the room (group)
	Chat     ChatID   // the network chat ID if known; connector resolves To otherwise
	Group    bool
	Body     string
	ReplyTo  MessageID
	// MinEncryption is the weakest class the user allowed for this message;
	// a connector must refuse with ErrEncryptionUnavailable rather than send
	// weaker.
	MinEncryption Encryption
	// Resend: an earlier attempt (maybe by a process that died before it
	// recorded the answer) may already have reached the server. A network
	// whose server does not deduplicate by ClientID must check before it
	// sends again. At is when the message was first queued: no earlier copy
	// is older.
	Resend bool
	At     time.Time
	// File is an attachment to upload and send (Body is its caption, may
	// be empty); nil for a text message. Connectors that can send files
	// implement Uploader.
	File *OutgoingFile
	// Profile names the original sender of a message a client-side bridge
	// relays; networks that can show it per message (Matrix's
	// com.beeper.per_message_profile) do. The body carries it as a
	// prefix anyway.
	Profile *RelayProfile
}

// RelayProfile is who a relayed message is from, on which network.
type RelayProfile struct {
	ID      string // the sender's address on their network
	Name    string // as the body's prefix names them: "Bob (Matrix · E2EE)"
	Network Network
}

// SendResult is the server's acknowledgement.
type SendResult struct {
	NetworkID  MessageID
	Chat       ChatID // chat actually used (e.g. a newly created DM room)
	Encryption Encryption
	At         time.Time
	// Attachments, for a file, is what the peer received (the uploaded
	// URL and key), so the sender can fetch it again like any attachment.
	Attachments []Attachment
}

// HistoryPage is one page of older messages, newest last.
type HistoryPage struct {
	Messages []Message
	// Before is the cursor for the next (older) page; empty when exhausted.
	Before string
}

// Errors connectors return so the core can react without knowing the network.
var (
	ErrNotConnected          = errors.New("not connected")
	ErrAuthFailed            = errors.New("authentication failed")
	ErrUnsupported           = errors.New("not supported by this network")
	ErrEncryptionUnavailable = errors.New("required encryption not available for this peer")
	ErrUnknownPeer           = errors.New("unknown peer")
)

// Connector is what every network implements. Methods are safe for
// concurrent use. Events are delivered on one channel until Close.
type Connector interface {
	Network() Network
	Capabilities() Capabilities
	// Connect logs in and starts receiving; it returns once online or on
	// error (ErrAuthFailed for bad credentials, which must not be retried).
	Connect(ctx context.Context) error
	// Events is the stream of everything the network tells us.
	Events() <-chan Event
	// Send sends one message, using msg.ClientID as the network's
	// transaction ID so a retry after a crash is seen once by the peer.
	Send(ctx context.Context, msg OutgoingMessage) (SendResult, error)
	// PeerEncryption is the class a message to peer would get now, from
	// cached state (never blocks on the network).
	PeerEncryption(peer Address) Encryption
	// MarkRead tells the peer we read up to and including networkID.
	MarkRead(ctx context.Context, chat ChatID, networkID MessageID) error
	SetTyping(ctx context.Context, chat ChatID, typing bool) error
	// FetchHistory returns messages older than before: a previous page's
	// Before, or the NetworkID of the oldest message the caller holds
	// (empty: the newest page).
	FetchHistory(ctx context.Context, chat ChatID, before string, limit int) (HistoryPage, error)
	Close() error
}

// Editor is implemented by connectors that can correct a sent message.
type Editor interface {
	Edit(ctx context.Context, chat ChatID, target MessageID, client ClientID, newBody string) (SendResult, error)
}

// Reactor is implemented by connectors that can react to messages.
type Reactor interface {
	React(ctx context.Context, chat ChatID, target MessageID, key string, remove bool) error
}

// Logouter is implemented by connectors whose login leaves state on the
// server (a Matrix device with its keys): Logout ends that session for
// good. Removing the account calls it, connected or not.
type Logouter interface {
	Logout(ctx context.Context) error
}

// Retractor is implemented by connectors that can delete a sent message.
type Retractor interface {
	Retract(ctx context.Context, chat ChatID, target MessageID) error
}

// RequestResponder is implemented by connectors on which a message request
// (XMPP subscription, Matrix invite) must be answered on the network.
type RequestResponder interface {
	AnswerRequest(ctx context.Context, from Address, chat ChatID, accept bool) error
}

// Downloader is implemented by connectors that can fetch an attachment's
// content. Download writes it (decrypted and verified, when the network
// encrypts media) into dir under a safe, unused file name derived from the
// remote name, and returns the file's path. The remote name is hostile
// input: the file never lands outside dir.
type Downloader interface {
	Download(ctx context.Context, att Attachment, dir string) (path string, err error)
}

// OlderThan keeps a page of history (oldest first) in order before floor,
// the time of the oldest message already held: archive stamps often have
// one-second precision, and a message stamped in the same second as a
// newer one it precedes would otherwise sort after it. A stamp is moved
// back (by a microsecond past the next one) only where needed. It returns
// the stamps and the new floor. A zero floor (nothing held) keeps the
// page's own newest stamp as the start.
func OlderThan(stamps []time.Time, floor time.Time) ([]time.Time, time.Time) {
	out := make([]time.Time, len(stamps))
	for i := len(stamps) - 1; i >= 0; i-- {
		st := stamps[i]
		if !floor.IsZero() && !st.Before(floor) {
			st = floor.Add(-time.Microsecond)
		}
		out[i], floor = st, st
	}
	return out, floor
}
