// Package xmpp is Polyglot's XMPP connector, on mellium.im/xmpp v0.23.0.
//
//	c, err := xmpp.New(xmpp.Config{JID: "alice@example.org", Password: pw, Account: id})
//	err = c.Connect(ctx) // protocols.ErrAuthFailed on bad credentials: do not retry
//	for ev := range c.Events() { … }
//
// # Link
//
// SRV lookup (_xmpps-client, _xmpp-client) falling back to the domain, or
// Config.Server; STARTTLS or direct TLS (Config.DirectTLS), certificates
// verified against the system roots plus Config.CAFile. SASL SCRAM-SHA-256,
// SCRAM-SHA-1, PLAIN — mellium offers SASL only once the stream is secure, so
// PLAIN never travels in clear. Turning verification off needs the loudly
// named InsecureSkipVerifyLoopback, is refused for non-loopback servers, and
// downgrades every message to EncNone. XEP-0199 pings every PingInterval
// (20 s; 10 s timeout) close a dead link, which is reported as
// ConnectionEvent{ConnOffline}. There is no retry loop here: the account
// supervisor calls Connect again on the same Connector (Events stays open
// until Close). ConnectionEvents keep their order: Online is reported only
// while the session is alive, so a link that breaks during login makes
// Connect fail at once (ErrNotConnected) and is never followed by a stale
// Online; waits for replies (login queries, Send's ack, FetchHistory) end
// as soon as the session does.
//
// # Stream management (XEP-0198): not implemented
//
// mellium v0.23.0 gives no hook to count inbound stanzas (IQ replies are
// consumed inside the session) nor to resume a stream, so XEP-0198 cannot be
// done correctly on it. What gives the same guarantee instead:
//   - Send writes the message and then an XEP-0199 ping; the stream is
//     ordered, so the ping's answer proves the server took the message (what
//     an SM <a/> would). Send fails with ErrNotConnected otherwise and the
//     outbox retries with the same ClientID (id = origin-id).
//   - A ClientID the server already acknowledged, or that MAM catch-up found
//     in our archive, is not put on the wire again: a retry is seen once.
//   - Reconnect runs MAM catch-up (XEP-0313) before presence goes out and
//     once more after it: what reached the server in between went to
//     offline storage, which Prosody does not flush to a session that
//     queried the archive. Any offline flush is deduplicated by stanza-id.
//   - Rooms: a first join replays the last 20 messages; a rejoin (after a
//     reconnect, or a restart with the position in DataDir) asks for none
//     and pages the room's own archive from the room's position.
//
// # Catch-up positions: nothing is passed over
//
// Our archive and each room have a position (an archive ID, kept in
// Config.DataDir). The rule: every message up to the position is in the
// consumer's store. So:
//   - A position moves only when the consumer commits a
//     protocols.CheckpointEvent, which follows the events it covers; the
//     inbox commits it after they are stored, and not at all once an event
//     of the account failed to store (the next connect fetches it again).
//   - Catch-up emits a checkpoint after each archive page. A catch-up that
//     fails (the server went away mid-page) fails the connect: the
//     supervisor reconnects and catch-up resumes from the last stored page.
//     A server without MAM has nothing to catch up from and is let through.
//   - A live 1:1 message (or carbon) moves our position only after this
//     session's catch-up after presence reached the archive's end, and only with carbons
//     on (otherwise messages to our other devices would be passed over). A
//     live room message moves the room's position only after that room's
//     catch-up reached its end. Before that, a live stanza-id lies beyond a
//     range not fetched yet, and moving to it would skip the range.
//   - An archive position the server no longer knows (item-not-found)
//     restarts from now: nothing older can be fetched anyway.
//
// # Messages
//
// Message.ClientID is the sender's id attribute (what XEP-0184/0333/0308/0444
// and 0461 reference in 1:1 chats); NetworkID is the XEP-0359 stanza-id given
// by our server (1:1) or the room (MUC), which is also the MAM archive ID, so
// live, carbon and archived copies of one message share it. The core
// dedupes by NetworkID, and by ClientID for our own messages (the stanza-id of
// a message we sent reaches us only through MAM or the room echo).
// Implemented: receipts (0184) and chat markers (0333) → ReceiptEvent;
// chat states (0085) ↔ TypingEvent/SetTyping; carbons (0280, forged ones from
// other senders dropped); corrections (0308) ↔ EditEvent/Edit; reactions
// (0444: the full set is sent and diffed against the last set seen);
// replies (0461, quoting fallback 0428 stripped); retraction (0424, both the
// :1 form and the 0.x fastening form slixmpp sends) ↔ DeleteEvent/Retract;
// MAM (0313 + RSM 0059) for catch-up and FetchHistory; MUC (0045) joined by
// address (JoinRoom), from Config.Rooms and from XEP-0402 autojoin bookmarks,
// with room history as Historical events; direct and mediated invitations
// and presence subscriptions become RequestEvents, answered by AnswerRequest.
//
// # Consent
//
// The connector never sends read state by itself. MarkRead sends the 0333
// displayed marker (and the 0184 receipt the message asked for); the core
// calls it only for accepted peers. Automatic delivery receipts go out only
// when Config.DeliveryReceipts(from) says so (nil: never). Presence goes only
// to subscribers the user approved through AnswerRequest.
//
// # Encryption: OMEMO 0.3 (omemo.go, mucomemo.go, package omemo)
//
// With Config.OMEMOKey (from the keystore) and DataDir, the account is one
// OMEMO device (eu.siacs.conversations.axolotl, as profanity, Conversations,
// Dino and Gajim deploy it), its store in DataDir/omemo.db. At login, after
// catch-up, it adds itself to our device list (never dropping our other
// devices) and publishes its bundle, both with access_model=open.
//   - PeerEncryption is EncE2EE for a 1:1 peer whose stored device list
//     has a device we can encrypt to (no network), else EncTransport (TLS
//     to the server, verified). Rooms: see below.
//   - Send refreshes the peer's and our own device list (the user is
//     sending: consented), builds sessions from bundles where needed, and
//     encrypts to every reachable device of the peer and our own other
//     devices; the body is the standard fallback, never the text;
//     SendResult.Encryption says E2EE. A peer that lists any device never
//     gets plaintext: if none can be reached, ErrEncryptionUnavailable, as
//     when MinEncryption ≥ E2EE and the peer has no OMEMO. A device-list
//     query that gets no answer (link down, timeout) fails the send with
//     ErrNotConnected (retried) rather than guess "no OMEMO" and send the
//     text in the clear. Corrections of an OMEMO chat are encrypted the
//     same way (<replace/> outside).
//   - Received <encrypted> elements (live, carbons of our other devices,
//     MAM) are decrypted into normal MessageEvents with EncE2EE; the
//     fallback body is never shown; key-transport elements produce no
//     message. Each element is decrypted once: the plaintext is kept
//     (sealed) by a hash of the element, so archive copies, overlaps and
//     replays after a restart return it instead of failing on a used
//     ratchet key. What cannot be decrypted becomes an Undecryptable
//     message whose Notice says why and which device sent it.
//   - Nothing is fetched toward a stranger: bundles and device lists only
//     when sending (device lists also for the members of a room the user
//     joined, below); a prekey message from a stranger is decrypted (it
//     lands in Requests like any first message).
//   - Group chats (mucomemo.go), as Conversations, Dino and profanity do
//     it: only a room whose disco#info says muc_membersonly and
//     muc_nonanonymous can carry OMEMO. Its members are its affiliation
//     lists (owner, admin, member: Prosody lets a member ask for them in
//     such a room) plus the real JIDs occupants' presence shows. After a
//     join (the user joined: consented) the connector asks for them and
//     for every member's device list, and again before each send.
//     PeerEncryption(room) is EncE2EE when the room can carry OMEMO and
//     every member (but us) has a device we can reach, else EncTransport;
//     verified is not offered for rooms. Send encrypts to every device of
//     every member and our own other devices in one <encrypted> element
//     (type groupchat, fallback body); a member none of whose devices can
//     be reached fails the send (ErrEncryptionUnavailable, naming them).
//     A public or semi-anonymous room, or a member who publishes no
//     device, refuses MinEncryption ≥ E2EE with ErrEncryptionUnavailable
//     saying why; with a lower minimum (the user allowed the downgrade)
//     the text goes with TLS only.
//   - A room's OMEMO message from room/nick is decrypted as the sender's
//     real JID: from the occupant's presence for a live one; for one the
//     room hands out (room MAM, join history stamped by the room) from the
//     <x><item jid/> Prosody adds to what it archives in a non-anonymous
//     room (the last one: a sender's own <x> comes before it and is never
//     believed). Our own echo (our nick or our JID) is ours: its text was
//     kept by RememberSent, as for 1:1 archive copies. A sender the room
//     does not name is an Undecryptable message saying so; other failures
//     name the member and device.
//   - Our presence carries entity caps (XEP-0115, caps.go) with
//     eu.siacs.conversations.axolotl.devicelist+notify, so the server pushes
//     our own account's and our (mutually subscribed) contacts' device lists;
//     pushes update the store, and our own list without this device is
//     published again. New devices of a contact
//     and refused changed keys become KeyChangeEvents (trust on first use).
//
// # Files (upload.go, download.go)
//
// Sending: HTTP File Upload (XEP-0363) to the service found by disco (the
// server or one of its items), whose max-file-size is the limit; the GET
// URL goes as the body with an OOB (XEP-0066) element. To a peer with
// OMEMO the file is AES-256-GCM encrypted first and the body, inside the
// OMEMO message only, is an aesgcm:// URL with IV and key in its fragment
// (Conversations' scheme); the server stores ciphertext under a neutral
// name. A caption goes as a message of its own after the file.
// Receiving: an https OOB URL, or an aesgcm:// body inside OMEMO, is an
// attachment; Download GETs it with a 200 MiB cap and the account's trust
// roots, and checks the GCM tag.
//
// # Hostile input
//
// XML cannot carry C0 controls; Go's XML decoder refuses ESC (raw or as a
// character reference) and invalid UTF-8 from a hostile server, which ends
// the stream with a reported error rather than delivering it. C1 controls and
// bidi overrides arrive raw (the TUI sanitizes at draw time). Bodies are
// capped at Config.MaxBody (64 KiB) with a Notice saying how long they were;
// a bodiless chat message with only unknown payloads becomes an empty message
// with a Notice; undecodable stanzas are dropped and logged.
package xmpp
