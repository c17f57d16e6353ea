package xmpp

import (
	"encoding/xml"
	"strings"
	"time"
	"unicode/utf8"

	"polyglot/protocols/xmpp/omemo"
)

// Namespaces of the payloads mellium v0.23.0 does not have, written here on
// encoding/xml so they travel through mellium's stanza encoder unchanged.
const (
	nsClient      = "jabber:client"
	nsSID         = "urn:xmpp:sid:0"                        // XEP-0359 unique and stable stanza IDs
	nsReceipts    = "urn:xmpp:receipts"                     // XEP-0184
	nsMarkers     = "urn:xmpp:chat-markers:0"               // XEP-0333
	nsChatStates  = "http://jabber.org/protocol/chatstates" // XEP-0085
	nsCorrect     = "urn:xmpp:message-correct:0"            // XEP-0308
	nsReactions   = "urn:xmpp:reactions:0"                  // XEP-0444
	nsRetract1    = "urn:xmpp:message-retract:1"            // XEP-0424 (current)
	nsRetract0    = "urn:xmpp:message-retract:0"            // XEP-0424 0.x, inside fastening
	nsFasten      = "urn:xmpp:fasten:0"                     // XEP-0422, carries retract v0
	nsReply       = "urn:xmpp:reply:0"                      // XEP-0461
	nsFallback    = "urn:xmpp:fallback:0"                   // XEP-0428
	nsFallbackOld = "urn:xmpp:feature-fallback:0"           // what slixmpp 1.8 uses for replies
	nsHints       = "urn:xmpp:hints"                        // XEP-0334
	nsCarbons     = "urn:xmpp:carbons:2"                    // XEP-0280
	nsForward     = "urn:xmpp:forward:0"                    // XEP-0297
	nsDelay       = "urn:xmpp:delay"                        // XEP-0203
	nsMAM         = "urn:xmpp:mam:2"                        // XEP-0313
	nsRSM         = "http://jabber.org/protocol/rsm"
	nsDataForm    = "jabber:x:data"
	nsMUC         = "http://jabber.org/protocol/muc"
	nsMUCUser     = "http://jabber.org/protocol/muc#user"
	nsConference  = "jabber:x:conference" // XEP-0249 direct invitations
	nsRoster      = "jabber:iq:roster"
	nsPing        = "urn:xmpp:ping"
	nsDiscoInfo   = "http://jabber.org/protocol/disco#info"
	nsPubSub      = "http://jabber.org/protocol/pubsub"
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	nsBookmarks2  = "urn:xmpp:bookmarks:1" // XEP-0402
)

// idRef is any element whose only meaning is an id attribute: origin-id,
// receipts' received, chat markers, a correction's replace.
type idRef struct {
	ID string `xml:"id,attr"`
}

// StanzaID is XEP-0359 <stanza-id/>: the ID the archiving entity (our server
// for 1:1, the room for MUC) gave the message.
type StanzaID struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 stanza-id"`
	ID      string   `xml:"id,attr"`
	By      string   `xml:"by,attr"`
}

// OriginID is XEP-0359 <origin-id/>: the sender's own ID, stable across resends.
type OriginID struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 origin-id"`
	ID      string   `xml:"id,attr"`
}

// ChatState is one XEP-0085 state element; the state is the element name.
type ChatState struct {
	XMLName xml.Name
}

// Chat states (XEP-0085 §2.1).
const (
	StateActive    = "active"
	StateComposing = "composing"
	StatePaused    = "paused"
	StateInactive  = "inactive"
	StateGone      = "gone"
)

// NewChatState returns the element for state (one of the State constants).
func NewChatState(state string) *ChatState {
	return &ChatState{XMLName: xml.Name{Space: nsChatStates, Local: state}}
}

// Replace is XEP-0308 <replace/>: this message corrects message ID.
type Replace struct {
	XMLName xml.Name `xml:"urn:xmpp:message-correct:0 replace"`
	ID      string   `xml:"id,attr"`
}

// Reactions is XEP-0444 <reactions/>: the full set of the sender's reactions
// to message ID (an empty set removes them all).
type Reactions struct {
	XMLName   xml.Name `xml:"urn:xmpp:reactions:0 reactions"`
	ID        string   `xml:"id,attr"`
	Reactions []string `xml:"urn:xmpp:reactions:0 reaction"`
}

// Retract is XEP-0424 (namespace :1) <retract/>.
type Retract struct {
	XMLName xml.Name `xml:"urn:xmpp:message-retract:1 retract"`
	ID      string   `xml:"id,attr"`
}

// ApplyTo is the XEP-0422 fastening that XEP-0424 0.x used to carry
// <retract xmlns='urn:xmpp:message-retract:0'/>; sent too, for older clients.
type ApplyTo struct {
	XMLName xml.Name  `xml:"urn:xmpp:fasten:0 apply-to"`
	ID      string    `xml:"id,attr"`
	Retract *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
}

// Reply is XEP-0461 <reply/>.
type Reply struct {
	XMLName xml.Name `xml:"urn:xmpp:reply:0 reply"`
	To      string   `xml:"to,attr,omitempty"`
	ID      string   `xml:"id,attr"`
}

// Fallback is XEP-0428 <fallback/>: which part of the body is only there for
// clients that do not understand the payload named by For.
type Fallback struct {
	XMLName xml.Name       `xml:"urn:xmpp:fallback:0 fallback"`
	For     string         `xml:"for,attr"`
	Body    []FallbackBody `xml:"urn:xmpp:fallback:0 body"`
}

// FallbackBody marks a range of the body in code points ([Start, End)).
type FallbackBody struct {
	Start *int `xml:"start,attr"`
	End   *int `xml:"end,attr"`
}

// Marker is a XEP-0333 chat marker (markable, received, displayed,
// acknowledged); the kind is the element name.
type Marker struct {
	XMLName xml.Name
	ID      string `xml:"id,attr,omitempty"`
}

// NewMarker returns a chat marker of kind for message id.
func NewMarker(kind, id string) *Marker {
	return &Marker{XMLName: xml.Name{Space: nsMarkers, Local: kind}, ID: id}
}

// ReceiptRequest and ReceiptReceived are XEP-0184.
type ReceiptRequest struct {
	XMLName xml.Name `xml:"urn:xmpp:receipts request"`
}

type ReceiptReceived struct {
	XMLName xml.Name `xml:"urn:xmpp:receipts received"`
	ID      string   `xml:"id,attr"`
}

// Store is the XEP-0334 hint asking servers to archive a bodiless message
// (reactions, retractions).
type Store struct {
	XMLName xml.Name `xml:"urn:xmpp:hints store"`
}

// delay is XEP-0203.
type delay struct {
	Stamp string `xml:"stamp,attr"`
	From  string `xml:"from,attr,omitempty"`
}

func (d *delay) time() time.Time {
	if d == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, d.Stamp)
	if err != nil {
		return time.Time{}
	}
	return t
}

// forwarded is XEP-0297, as carbons and MAM results wrap messages.
type forwarded struct {
	Delay   *delay     `xml:"urn:xmpp:delay delay"`
	Message *inMessage `xml:"jabber:client message"`
}

type carbon struct {
	Forwarded forwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type mamResult struct {
	QueryID   string    `xml:"queryid,attr"`
	ID        string    `xml:"id,attr"`
	Forwarded forwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type mucUserX struct {
	Items    []mucItem   `xml:"http://jabber.org/protocol/muc#user item"`
	Statuses []mucStatus `xml:"http://jabber.org/protocol/muc#user status"`
	Invite   *mucInvite  `xml:"http://jabber.org/protocol/muc#user invite"`
}

type mucItem struct {
	JID         string `xml:"jid,attr"`
	Affiliation string `xml:"affiliation,attr"`
	Role        string `xml:"role,attr"`
	Nick        string `xml:"nick,attr"`
}

type mucStatus struct {
	Code int `xml:"code,attr"`
}

type mucInvite struct {
	From   string `xml:"from,attr"`
	Reason string `xml:"reason"`
}

type directInvite struct {
	JID    string `xml:"jid,attr"`
	Reason string `xml:"reason,attr"`
}

type anyElem struct {
	XMLName xml.Name
}

// inMessage is every part of an incoming <message/> Polyglot understands.
// Unknown children land in Other so a bodiless message with only unknown
// payloads can be reported instead of silently vanishing.
type inMessage struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`

	Body    []string `xml:"jabber:client body"`
	Subject *string  `xml:"jabber:client subject"`
	Error   *anyElem `xml:"jabber:client error"`

	OriginID  *idRef     `xml:"urn:xmpp:sid:0 origin-id"`
	StanzaIDs []StanzaID `xml:"urn:xmpp:sid:0 stanza-id"`

	ReceiptRequest *struct{} `xml:"urn:xmpp:receipts request"`
	Receipt        *idRef    `xml:"urn:xmpp:receipts received"`

	Markable     *struct{} `xml:"urn:xmpp:chat-markers:0 markable"`
	MarkReceived *idRef    `xml:"urn:xmpp:chat-markers:0 received"`
	MarkShown    *idRef    `xml:"urn:xmpp:chat-markers:0 displayed"`
	MarkAcked    *idRef    `xml:"urn:xmpp:chat-markers:0 acknowledged"`

	Active    *struct{} `xml:"http://jabber.org/protocol/chatstates active"`
	Composing *struct{} `xml:"http://jabber.org/protocol/chatstates composing"`
	Paused    *struct{} `xml:"http://jabber.org/protocol/chatstates paused"`
	Inactive  *struct{} `xml:"http://jabber.org/protocol/chatstates inactive"`
	Gone      *struct{} `xml:"http://jabber.org/protocol/chatstates gone"`

	Replace      *idRef     `xml:"urn:xmpp:message-correct:0 replace"`
	Reactions    *Reactions `xml:"urn:xmpp:reactions:0 reactions"`
	Retract      *idRef     `xml:"urn:xmpp:message-retract:1 retract"`
	ApplyTo      *ApplyTo   `xml:"urn:xmpp:fasten:0 apply-to"`
	Reply        *Reply     `xml:"urn:xmpp:reply:0 reply"`
	Fallbacks    []Fallback `xml:"urn:xmpp:fallback:0 fallback"`
	OldFallbacks []Fallback `xml:"urn:xmpp:feature-fallback:0 fallback"`

	Delay        *delay        `xml:"urn:xmpp:delay delay"`
	CarbonRecv   *carbon       `xml:"urn:xmpp:carbons:2 received"`
	CarbonSent   *carbon       `xml:"urn:xmpp:carbons:2 sent"`
	MAM          *mamResult    `xml:"urn:xmpp:mam:2 result"`
	MUCUser      *mucUserX     `xml:"http://jabber.org/protocol/muc#user x"`
	DirectInvite *directInvite `xml:"jabber:x:conference x"`

	Encrypted *omemo.Encrypted `xml:"eu.siacs.conversations.axolotl encrypted"`
	PEPEvent  *omemo.Event     `xml:"http://jabber.org/protocol/pubsub#event event"`
	OOB       []OOB            `xml:"jabber:x:oob x"`

	Other []anyElem `xml:",any"`
}

// state returns the chat state carried, or "".
func (m *inMessage) state() string {
	switch {
	case m.Composing != nil:
		return StateComposing
	case m.Paused != nil:
		return StatePaused
	case m.Active != nil:
		return StateActive
	case m.Inactive != nil:
		return StateInactive
	case m.Gone != nil:
		return StateGone
	}
	return ""
}

// body is the first body (XMPP allows one per language).
func (m *inMessage) body() string {
	if len(m.Body) == 0 {
		return ""
	}
	return m.Body[0]
}

// retractTarget is the ID retracted by either XEP-0424 form, or "".
func (m *inMessage) retractTarget() string {
	if m.Retract != nil {
		return m.Retract.ID
	}
	if m.ApplyTo != nil && m.ApplyTo.Retract != nil {
		return m.ApplyTo.ID
	}
	return ""
}

// stanzaID returns the XEP-0359 stanza-id given by `by` (our bare JID for 1:1,
// the room for MUC). IDs claimed by anyone else are ignored: a sender could
// forge them to collide with another message.
func (m *inMessage) stanzaID(by string) string {
	for _, s := range m.StanzaIDs {
		if strings.EqualFold(s.By, by) {
			return s.ID
		}
	}
	return ""
}

// unknownPayloads lists children we do not understand, for the notice.
func (m *inMessage) unknownPayloads() []string {
	var out []string
	for _, o := range m.Other {
		switch o.XMLName.Space {
		case nsClient, nsHints, nsFallback, nsFallbackOld, nsSID, "http://jabber.org/protocol/xhtml-im",
			"jabber:x:oob", "urn:xmpp:eme:0", "http://jabber.org/protocol/nick", nsMUC, nsPubSubEvent:
			continue
		}
		out = append(out, "{"+o.XMLName.Space+"}"+o.XMLName.Local)
	}
	return out
}

// stripFallback removes the body ranges marked as fallback for ns (XEP-0428);
// without ranges the whole body is fallback.
func stripFallback(body string, fbs []Fallback, ns string) string {
	for _, fb := range fbs {
		if fb.For != ns {
			continue
		}
		if len(fb.Body) == 0 {
			return ""
		}
		runes := []rune(body)
		keep := make([]bool, len(runes))
		for i := range keep {
			keep[i] = true
		}
		for _, b := range fb.Body {
			start, end := 0, len(runes)
			if b.Start != nil {
				start = *b.Start
			}
			if b.End != nil {
				end = *b.End
			}
			if start < 0 || end > len(runes) || start > end {
				continue // bogus range from the wire: keep the text
			}
			for i := start; i < end; i++ {
				keep[i] = false
			}
		}
		var sb strings.Builder
		for i, r := range runes {
			if keep[i] {
				sb.WriteRune(r)
			}
		}
		return sb.String()
	}
	return body
}

// capBody cuts s to at most max bytes on a rune boundary; ok is false when it
// had to cut. Invalid UTF-8 cannot arrive (the XML decoder refuses it).
func capBody(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, true
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], false
}

// outMessage is every <message/> we send.
type outMessage struct {
	XMLName xml.Name `xml:"message"`
	ID      string   `xml:"id,attr,omitempty"`
	To      string   `xml:"to,attr"`
	Type    string   `xml:"type,attr,omitempty"`

	Body      string           `xml:"body,omitempty"`
	OriginID  *OriginID        `xml:",omitempty"`
	Request   *ReceiptRequest  `xml:",omitempty"`
	Received  *ReceiptReceived `xml:",omitempty"`
	Markers   []*Marker        `xml:",omitempty"`
	ChatState *ChatState       `xml:",omitempty"`
	Replace   *Replace         `xml:",omitempty"`
	Reactions *Reactions       `xml:",omitempty"`
	Retract   *Retract         `xml:",omitempty"`
	ApplyTo   *ApplyTo         `xml:",omitempty"`
	Reply     *Reply           `xml:",omitempty"`
	Fallbacks []Fallback       `xml:",omitempty"`
	Encrypted *omemo.Encrypted `xml:",omitempty"`
	EME       *omemo.EME       `xml:",omitempty"`
	Store     *Store           `xml:",omitempty"`
	OOB       *OOB             `xml:",omitempty"`
}
