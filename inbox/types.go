package inbox

import (
	"fmt"
	"time"

	"polyglot/protocols"
)

// PersonID, ConversationID and MessageID are local row IDs in the store.
type (
	PersonID       int64
	ConversationID int64
	MessageID      int64
)

// Consent is the user's decision about a remote address.
type Consent int

const (
	ConsentUnknown  Consent = iota // never seen a decision: first message becomes a request
	ConsentAccepted                // in the inbox; receipts/typing/presence may go back
	ConsentBlocked                 // dropped, never shown again
	ConsentIgnored                 // kept in Requests, silenced, never answered
)

func (c Consent) String() string {
	return [...]string{"unknown", "accepted", "blocked", "ignored"}[c]
}

// Decision is what the user picks on a request. All three are equal.
type Decision int

const (
	Accept Decision = iota + 1
	Block
	Ignore
)

// Identity is one address of a person on one network.
type Identity struct {
	ID         int64
	Person     PersonID
	Address    protocols.Address // Address.Account: the account it was seen through
	Name       string            // display name as the network gave it (raw, unsanitized)
	Encryption protocols.Encryption
	Presence   protocols.PresenceState
	Consent    Consent
	// Contact: on the user's contact list there (roster, DM partner).
	Contact bool
}

// Person is one human, possibly reachable on several networks.
type Person struct {
	ID         PersonID
	Name       string
	Identities []Identity
	// Preferred network for this person, if the user set one ("" = none).
	Preferred protocols.Network
	// AllowDowngrade is the visible per-person rule that lets the router fall
	// back to a weaker encryption class without asking each time.
	AllowDowngrade bool
}

// ConversationKind separates 1:1 (one per person, merged across networks)
// from group chats (one per network room).
type ConversationKind int

const (
	Direct ConversationKind = iota + 1
	Group
)

// Conversation is one entry in the inbox list.
type Conversation struct {
	ID       ConversationID
	Kind     ConversationKind
	Person   PersonID // Direct only
	Title    string   // person's name or room name (raw, unsanitized)
	Networks []protocols.Network
	Preview  string // last message, first line (raw)
	LastAt   time.Time
	Unread   int
	Typing   bool // someone is typing now
	// Request is true while the conversation waits for a consent decision.
	Request bool
}

// MessageState is the delivery state of a stored message.
type MessageState int

const (
	StateReceived  MessageState = iota // incoming
	StateQueued                        // persisted, not yet on the network
	StateSent                          // server accepted it
	StateDelivered                     // peer's device got it
	StateRead                          // peer read it
	StateFailed                        // gave up; FailReason says why, Retry re-queues
)

func (s MessageState) String() string {
	return [...]string{"received", "queued", "sent", "delivered", "read", "failed"}[s]
}

// MessageKind separates real messages from the lines the core adds to a
// conversation (key changes, fallback notices, …).
type MessageKind int

const (
	KindText   MessageKind = iota
	KindSystem             // shown centered/dim: key change, route change, notices
)

// ReactionCount is one reaction key and who set it.
type ReactionCount struct {
	Key     string
	Count   int
	Senders []string
	Mine    bool
}

// Message is a stored message as views read it.
type Message struct {
	ID           MessageID
	Conversation ConversationID
	Kind         MessageKind
	ClientID     string
	NetworkID    string
	Network      protocols.Network
	Account      string
	Sender       protocols.Address
	SenderName   string // raw
	Outgoing     bool
	Body         string // raw; views sanitize before drawing
	Formatted    string
	At           time.Time
	Encryption   protocols.Encryption // what it actually travelled with
	State        MessageState
	FailReason   string
	ReplyTo      string
	Edited       bool
	Deleted      bool
	Reactions    []ReactionCount
	Attachments  []protocols.Attachment
	Notice       string // connector or router notice shown under the message
}

// Cursor is a page key: (timestamp, id). The zero Cursor means "newest".
type Cursor struct {
	At time.Time
	ID int64
}

// Route is one way to reach a conversation: an account and an identity.
type Route struct {
	Account    string
	Network    protocols.Network
	To         protocols.Address
	Encryption protocols.Encryption
	Online     bool
	Preferred  bool   // the user's per-person preference
	LastUsed   bool   // most recently used with this person
	Why        string // short human reason for its rank
}

func (r Route) String() string {
	return fmt.Sprintf("%s via %s (%s)", r.To.ID, r.Network, r.Encryption.Label())
}

// Request is a pending message request from an address never accepted.
type Request struct {
	Conversation ConversationID
	From         protocols.Address
	Name         string // raw
	Kind         protocols.RequestKind
	Encryption   protocols.Encryption
	Verified     bool
	Preview      string // raw
	Count        int    // messages waiting
	At           time.Time
	Consent      Consent  // unknown or ignored (blocked in Blocked)
	Person       PersonID // whose address From is
}

// MergeSuggestion proposes that two people are one (never applied silently).
type MergeSuggestion struct {
	A, B   PersonID
	Reason string // "same name", "same phone number"
}

// SearchHit is one search result: a message, or (Message.ID 0) a
// conversation whose name or address matched.
type SearchHit struct {
	Conversation ConversationID
	Message      Message
	Title        string // conversation title
	Snippet      string // raw, with the match between SnippetOpen and SnippetClose
	// Name is the name or address that matched (raw), for a conversation
	// hit; NameKind says which: "name", "address" or "phone"; Network is
	// the network of the identity it belongs to, if it is one.
	Name     string
	NameKind string
	Network  protocols.Network
}

// ChangeKind says what changed, so a view re-reads only what it shows.
type ChangeKind int

const (
	ChangeConversations ChangeKind = iota + 1 // list order/preview/unread
	ChangeMessages                            // messages of Conversation
	ChangeRequests
	ChangeTyping
	ChangeAccounts // an account's connection state
	ChangePeople
	ChangeVerification // an interactive key verification moved on
	// ChangeIncoming: a live message from someone else arrived in
	// Conversation (or a new request opened it): the one kind worth a
	// notification. Never for our own messages, history/catch-up marked
	// Historical, blocked or ignored senders, or more messages of a request
	// already pending. Conversation is 0 when a stalled subscriber's queue
	// collapsed.
	ChangeIncoming
	// ChangeDrafts: the draft of Conversation was saved (by any screen).
	ChangeDrafts
	// ChangeBridges: a client-side bridge link was added, removed, paused
	// or resumed.
	ChangeBridges
)

// Change is the small notification the TUI re-arms on.
type Change struct {
	Kind         ChangeKind
	Conversation ConversationID
}

// AccountState is the connection state of an account as the inbox last saw it.
type AccountState struct {
	Account string
	Network protocols.Network
	State   protocols.ConnState
	Detail  string
}
