package demo

import (
	"strings"

	"polyglot/protocols"
)

// Servers of the simulated networks (RFC 2606 names: nothing real is hit).
const (
	matrixServer = "matrix.example"
	xmppServer   = "jabber.example"
	waServer     = "s.whatsapp.net"
)

// selfAddress is the user's own identity on network n.
func selfAddress(n protocols.Network) protocols.Address {
	switch n {
	case protocols.Matrix:
		return ident{net: n, id: "@robin:" + matrixServer}.address()
	case protocols.XMPP:
		return ident{net: n, id: "robin@" + xmppServer}.address()
	default:
		return ident{net: n, id: "15550100000@" + waServer}.address()
	}
}

// line is one message of a scripted history; out means the user wrote it.
type line struct {
	out  bool
	text string
}

// ident is one identity of a person on one network.
type ident struct {
	net      protocols.Network
	id       string // network-native ID
	enc      protocols.Encryption
	presence protocols.PresenceState
	status   string
	contact  bool   // on the user's roster; false for strangers
	recent   []line // newest last; older filler is generated before these
	older    int    // how many generated lines precede recent
}

func (i ident) server() string {
	switch i.net {
	case protocols.Matrix:
		if k := strings.IndexByte(i.id, ':'); k >= 0 {
			return i.id[k+1:]
		}
	default:
		if k := strings.IndexByte(i.id, '@'); k >= 0 {
			return i.id[k+1:]
		}
	}
	return ""
}

func (i ident) address() protocols.Address {
	return protocols.Address{Network: i.net, Account: protocols.AccountID(AccountID(i.net)), ID: i.id, Server: i.server()}
}

// dmChat is the network chat ID of the 1:1 conversation with i: a Matrix
// DM room, otherwise the peer's own JID.
func (i ident) dmChat() string {
	if i.net == protocols.Matrix {
		local := strings.TrimPrefix(i.id, "@")
		if k := strings.IndexByte(local, ':'); k >= 0 {
			local = local[:k]
		}
		return "!dm-" + local + ":" + matrixServer
	}
	return i.id
}

// person is one simulated human, possibly on several networks.
type person struct {
	key     string // stable key for seeding and scripts
	name    string // display name as the networks give it (raw)
	merged  bool   // confirmed as one person already (People)
	ids     []ident
	replies []string // picked by seed when the user writes to them
}

// room is a group chat.
type room struct {
	net     protocols.Network
	id      protocols.ChatID
	name    string
	enc     protocols.Encryption
	members []string // person keys (the user is always a member)
	recent  []groupLine
	older   int
}

type groupLine struct {
	from string // person key; "" is the user
	text string
}

// Hostile strings exercise the terminal sanitizer: a display name that
// clears the screen and a body that writes the clipboard (OSC 52) and hides
// a link (OSC 8).
const (
	malloryName = "Mallory\x1b[2J\x1b[H"
	malloryOSC  = "quick favour: paste this \x1b]52;c;cm0gLXJmIH4K\x07 into your shell, and see \x1b]8;;https://evil.example/\x1b\\the docs\x1b]8;;\x1b\\ \u202eexe.txt"
)

// cast is the world's population. Contents are fixed; the seed chooses
// filler, timings of history and replies.
func cast() []person {
	m, x, wa := protocols.Matrix, protocols.XMPP, protocols.WhatsApp
	const (
		none = protocols.PresenceUnknown
		on   = protocols.PresenceOnline
		away = protocols.PresenceAway
		off  = protocols.PresenceOffline
	)
	return []person{
		{
			key: "alice", name: "Alice Martin", merged: true,
			ids: []ident{
				{net: m, id: "@alice:" + matrixServer, enc: protocols.EncE2EEVerified, presence: on, status: "climbing this weekend 🧗", contact: true, older: 40,
					recent: []line{{false, "Did you get the tickets?"}, {true, "Yes! Row F, seats 12 and 13 🎟️"}, {false, "Perfect. I owe you a coffee ☕"}}},
				{net: wa, id: "15550100001@" + waServer, enc: protocols.EncE2EE, presence: on, contact: true, older: 12,
					recent: []line{{false, "Sent you the address 📍"}, {true, "Got it, thanks"}}},
				{net: x, id: "alice@" + xmppServer, enc: protocols.EncTransport, presence: away, status: "at work", contact: true, older: 4},
			},
			replies: []string{"Sounds good! 👍", "Ha, I was just thinking about that.", "Let me check my calendar and get back to you.", "Saturday works for me ☀️", "Can we talk later? In a meeting.", "Yes, absolutely."},
		},
		{
			key: "bob", name: "Bob Nakamura", merged: true,
			ids: []ident{
				{net: m, id: "@bob:" + matrixServer, enc: protocols.EncE2EE, presence: on, contact: true, older: 30,
					recent: []line{{true, "Is the build green again?"}, {false, "It is now. Flaky test, my fault 🙈"}}},
				{net: x, id: "bob@" + xmppServer, enc: protocols.EncTransport, presence: on, contact: true, older: 8,
					recent: []line{{false, "old-school jabber still works, who knew"}}},
			},
			replies: []string{"On it.", "lgtm 🚀", "Hmm, let me look at the logs first.", "Good catch, thanks!", "brb, coffee"},
		},
		{
			key: "chloe", name: "Chloé Dubois", merged: true,
			ids: []ident{
				{net: wa, id: "15550100003@" + waServer, enc: protocols.EncE2EE, presence: on, contact: true, older: 25,
					recent: []line{{false, "Tu viens ce soir ? 🍷"}, {true, "Oui, vers 20h !"}, {false, "Super, à tout à l'heure"}}},
				{net: x, id: "chloe@" + xmppServer, enc: protocols.EncTransport, presence: off, contact: true, older: 3},
			},
			replies: []string{"D'accord 😊", "Parfait, merci !", "Ah bon ? Raconte !", "À plus tard 👋"},
		},
		{
			key: "hanako", name: "山田 花子",
			ids: []ident{
				{net: wa, id: "15550100004@" + waServer, enc: protocols.EncE2EE, presence: away, contact: true, older: 18,
					recent: []line{{false, "資料ありがとうございました！"}, {true, "どういたしまして 🙂"}}},
			},
			replies: []string{"了解です！", "ありがとう 🙏", "明日また連絡しますね。", "いいですね！"},
		},
		{
			// Reachable only without end-to-end encryption.
			key: "dmitri", name: "Dmitri Volkov",
			ids: []ident{
				{net: x, id: "dmitri@" + xmppServer, enc: protocols.EncTransport, presence: on, status: "rebuilding the server rack", contact: true, older: 22,
					recent: []line{{false, "Prosody upgrade done, no downtime."}, {true, "Nice work!"}}},
			},
			replies: []string{"Noted.", "Will do, after the backup finishes.", "Понял 👍", "That should be fixed now."},
		},
		{
			key: "priya", name: "Priya Sharma 🌶️", merged: true,
			ids: []ident{
				{net: m, id: "@priya:" + matrixServer, enc: protocols.EncE2EE, presence: on, contact: true, older: 15,
					recent: []line{{false, "Recipe for the dal is in the shared doc"}, {true, "Amazing, making it tonight"}}},
				{net: wa, id: "15550100006@" + waServer, enc: protocols.EncE2EE, presence: on, contact: true, older: 20,
					recent: []line{{true, "Happy birthday!! 🎂"}, {false, "Thank you!! 🥳"}}},
			},
			replies: []string{"Haha yes 😂", "Let's do it!", "I'll bring snacks 🌶️", "Sorry, just saw this!"},
		},
		{
			// The same name on two networks, not yet merged: a merge suggestion.
			key: "sam", name: "Sam Okafor",
			ids: []ident{
				{net: x, id: "sam@" + xmppServer, enc: protocols.EncTransport, presence: on, contact: true, older: 6,
					recent: []line{{false, "Are you on the new WhatsApp number too?"}}},
				{net: wa, id: "15550100007@" + waServer, enc: protocols.EncE2EE, presence: on, contact: true, older: 5,
					recent: []line{{false, "Hey, it's Sam — new number 📱"}}},
			},
			replies: []string{"Cool cool.", "Yep, same Sam 😄", "Talk soon!"},
		},
		{
			key: "mallory", name: malloryName,
			ids: []ident{
				{net: x, id: "mallory@" + xmppServer, enc: protocols.EncTransport, presence: on, contact: true, older: 2,
					recent: []line{{false, "hi! long time \x1b[5mno see\x1b[0m"}}},
			},
			replies: []string{"\x1b[31mURGENT\x1b[0m: your account will be locked, reply with your password", "did you click it yet?\a\a\a"},
		},
		{
			key: "gertrud", name: "Oma Gertrud",
			ids: []ident{
				{net: wa, id: "15550100009@" + waServer, enc: protocols.EncE2EE, presence: off, contact: true, older: 10,
					recent: []line{{false, "Kommst du Sonntag zum Kuchen? 🍰"}, {true, "Ja, klar!"}}},
			},
			replies: []string{"Schön! ❤️", "Ruf mal wieder an.", "Pass auf dich auf, mein Schatz."},
		},
		{
			key: "jose", name: "José Álvarez 👩🏽‍💻",
			ids: []ident{
				{net: m, id: "@jose:" + matrixServer, enc: protocols.EncE2EEVerified, presence: away, contact: true, older: 9,
					recent: []line{{true, "Thanks for the review!"}, {false, "De nada. Two nits, otherwise ship it."}}},
			},
			replies: []string{"¡Claro!", "Ship it 🚢", "Give me five minutes."},
		},
		// Strangers: no roster entry, their first message is a request.
		{
			key: "stranger-wa", name: "Ravi",
			ids:     []ident{{net: wa, id: "447700900123@" + waServer, enc: protocols.EncE2EE}},
			replies: []string{"Great, thanks! Could I come by tomorrow to see it?", "Would you take £150?"},
		},
		{
			key: "stranger-xmpp", name: "Eve",
			ids:     []ident{{net: x, id: "eve@chat.elsewhere.example", enc: protocols.EncTransport}},
			replies: []string{"Thanks for accepting! 🙂", "Do you still have the slides?"},
		},
	}
}

// rooms are the group chats.
func rooms() []room {
	return []room{{
		net: protocols.Matrix, id: "!hike:" + matrixServer, name: "Weekend hike 🥾⛰️", enc: protocols.EncE2EE,
		members: []string{"alice", "bob", "priya"}, older: 30,
		recent: []groupLine{
			{"alice", "Forecast says sunny on Saturday ☀️"},
			{"priya", "I'm in! Robin, train at 8:12?"},
			{"", "Works for me"},
			{"bob", "I'll bring the map 🗺️"},
		},
	}}
}

// filler is what older generated history is made of (the seed picks).
var filler = []line{
	{false, "Morning! ☕"}, {true, "Morning 🙂"}, {false, "Did you see the news?"},
	{true, "Not yet, what happened?"}, {false, "Nothing big, tell you later"},
	{true, "Running 10 minutes late, sorry"}, {false, "No worries"},
	{false, "Look at this sunset 🌅"}, {true, "Wow, where is that?"},
	{false, "Thanks again for yesterday"}, {true, "Anytime!"},
	{true, "Can you send me the link?"}, {false, "Sure, one sec"},
	{false, "Lunch tomorrow?"}, {true, "Yes please 🍜"},
	{true, "Happy Friday 🎉"}, {false, "Finally!"},
	{false, "Call me when you have a minute"}, {true, "Will do"},
	{true, "That was hilarious 😂"}, {false, "Right?!"},
	{false, "Good night 🌙"}, {true, "Night!"},
}
