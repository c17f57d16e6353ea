package inbox

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"polyglot/protocols"
)

// Ingest applies one event a connector reported for account.
func (in *Inbox) Ingest(account string, ev protocols.Event) error {
	return in.IngestBatch(account, []protocols.Event{ev})
}

// errUnstorable marks an event no retry could store (it lacks what a
// message needs): dropping it must not hold the account's position back.
var errUnstorable = errors.New("event cannot be stored")

// commit confirms checkpoints to the connector, unless an event of this
// account failed to be stored since it last connected.
func (in *Inbox) commit(account string, checkpoints []protocols.CheckpointEvent) {
	if len(checkpoints) == 0 {
		return
	}
	in.mu.Lock()
	lost := in.lost[account]
	in.mu.Unlock()
	if lost {
		in.log.Warn().Str("account", account).Msg("an event was not stored: its catch-up position stays put until the next connect")
		return
	}
	for _, cp := range checkpoints {
		if cp.Commit != nil {
			cp.Commit()
		}
	}
}

// IngestBatch applies many events of one account in a single transaction:
// the path for history sync and catch-up. Either all events are stored or,
// on error, none (the caller may retry the batch; duplicates are dropped).
func (in *Inbox) IngestBatch(account string, evs []protocols.Event) error {
	if len(evs) == 0 {
		return nil
	}
	g := &ingester{in: in, account: account, now: in.now(),
		idents: map[identKey]*identRow{}, chats: map[string]ConversationID{},
		deltas: map[ConversationID]*convDelta{}, changes: map[Change]bool{},
		stmts: map[string]*sql.Stmt{}}
	// Connection events touch only memory; handle them outside the
	// transaction so an empty batch costs nothing on disk.
	var rest []protocols.Event
	var checkpoints []protocols.CheckpointEvent
	for _, ev := range evs {
		switch e := ev.(type) {
		case protocols.ConnectionEvent:
			g.connection(e)
		case *protocols.ConnectionEvent:
			g.connection(*e)
		case protocols.CheckpointEvent:
			checkpoints = append(checkpoints, e)
		case protocols.VerificationEvent:
			in.onVerification(account, e)
		case protocols.HistoryProgressEvent:
			in.onHistoryProgress(account, e)
			g.changed(ChangeAccounts, 0)
		case nil:
		default:
			rest = append(rest, ev)
		}
	}
	if len(rest) > 0 {
		err := in.write(func(tx *sql.Tx) error {
			g.tx = tx
			defer g.closeStmts()
			if err := g.prefetch(rest); err != nil {
				return err
			}
			for _, ev := range rest {
				if err := g.event(ev); err != nil {
					return err
				}
			}
			return g.flush()
		})
		g.in.stmts.prepareWanted(in.db)
		if err != nil {
			// A lone event that can never be stored is dropped for good;
			// anything else may store on a second try, so the account's
			// position must not pass it.
			if !errors.Is(err, errUnstorable) || len(rest) > 1 {
				in.mu.Lock()
				in.lost[account] = true
				in.mu.Unlock()
			}
			return fmt.Errorf("inbox: ingest: %w", err)
		}
	}
	in.commit(account, checkpoints)
	for conv, typing := range g.typing {
		in.setTyping(conv, typing)
	}
	if len(g.changes) > 0 {
		cs := make([]Change, 0, len(g.changes))
		for c := range g.changes {
			cs = append(cs, c)
		}
		in.publish(cs...)
	}
	for _, acc := range g.kick {
		in.kickOutbox(acc)
	}
	return nil
}

// ingester carries one batch: the transaction, small caches so a history
// sync of thousands of messages resolves each sender and chat once, and the
// conversation updates applied once at the end.
type ingester struct {
	in      *Inbox
	tx      *sql.Tx
	account string
	now     time.Time

	reachLoaded bool
	reach       Reachability
	ownServer   string

	idents  map[identKey]*identRow
	chats   map[string]ConversationID
	deltas  map[ConversationID]*convDelta
	changes map[Change]bool
	typing  map[ConversationID]bool
	kick    []string
	stmts   map[string]*sql.Stmt
	// Messages of this batch not yet in the full-text index: ids
	// ftsFrom..ftsTo (inserted with fts_later = 1).
	ftsFrom, ftsTo int64
	// grams are this batch's messages waiting for the character index
	// (grams.go), added with the full-text rows.
	grams []gramRow
	// direct caches each person's direct conversation and request flag
	// for the batch; every write to that flag below updates it.
	direct map[PersonID]directRow
}

type directRow struct {
	conv    ConversationID
	request bool
}

type identKey struct {
	net  protocols.Network
	addr string
}

type identRow struct {
	id       int64
	person   PersonID
	consent  Consent
	contact  bool
	enc      protocols.Encryption
	name     string
	lastNet  protocols.Network
	personNm string
}

type convDelta struct {
	lastAt  int64
	preview string
	unread  int
}

func (g *ingester) closeStmts() {
	for _, s := range g.stmts {
		s.Close()
	}
}

func (g *ingester) stmt(q string) (*sql.Stmt, error) {
	if s, ok := g.stmts[q]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if shared, ok := g.in.stmts.get(q); ok {
		s = g.tx.Stmt(shared)
	} else {
		var err error
		if s, err = g.tx.Prepare(q); err != nil {
			return nil, err
		}
	}
	g.stmts[q] = s
	return s, nil
}

func (g *ingester) exec(q string, args ...any) (sql.Result, error) {
	s, err := g.stmt(q)
	if err != nil {
		return nil, err
	}
	return s.Exec(args...)
}

func (g *ingester) row(q string, args ...any) *sql.Row {
	s, err := g.stmt(q)
	if err != nil {
		// Surface the prepare error through Scan.
		return g.tx.QueryRow(q, args...)
	}
	return s.QueryRow(args...)
}

func (g *ingester) changed(kind ChangeKind, conv ConversationID) {
	g.changes[Change{Kind: kind, Conversation: conv}] = true
}

func (g *ingester) event(ev protocols.Event) error {
	switch e := ev.(type) {
	case protocols.MessageEvent:
		return g.message(e.Message, e.Historical)
	case *protocols.MessageEvent:
		return g.message(e.Message, e.Historical)
	case protocols.ReceiptEvent:
		return g.receipt(e)
	case protocols.TypingEvent:
		return g.typingEv(e)
	case protocols.PresenceEvent:
		return g.presence(e)
	case protocols.EditEvent:
		return g.edit(e.From, e.TargetID, e.Body, e.Formatted, e.Chat)
	case protocols.DeleteEvent:
		return g.delete(e)
	case protocols.ReactionEvent:
		return g.reaction(e)
	case protocols.KeyChangeEvent:
		return g.keyChange(e)
	case protocols.ContactEvent:
		return g.contact(e)
	case protocols.RequestEvent:
		return g.request(e)
	case protocols.ChatEvent:
		return g.chat(e)
	default:
		g.in.log.Debug().Str("account", g.account).Str("type", fmt.Sprintf("%T", ev)).Msg("ignored unknown event")
		return nil
	}
}

func (g *ingester) connection(e protocols.ConnectionEvent) {
	if e.State == protocols.ConnConnecting {
		// A new session catches up from the last committed position,
		// which is before anything that failed to be stored.
		g.in.mu.Lock()
		delete(g.in.lost, g.account)
		g.in.mu.Unlock()
	}
	if e.State != protocols.ConnOnline {
		// A history fill ends with its session (it is not resumed), even
		// if its last report was lost with the link.
		g.in.endHistory(g.account)
	}
	online, changed := g.in.setState(g.account, e, "")
	if online {
		g.kick = append(g.kick, g.account)
	}
	// The supervisor and its connector both report a transition; the log
	// says it once.
	if changed {
		g.in.log.Info().Str("account", g.account).Str("state", e.State.String()).Msg("account state")
	}
	g.changed(ChangeAccounts, 0)
}

// network resolves the network of an event: the address says it, else the
// attached connector of the account.
func (g *ingester) network(a protocols.Address) protocols.Network {
	if a.Network != "" {
		return a.Network
	}
	return g.in.accountNetwork(g.account)
}

func (in *Inbox) accountNetwork(account string) protocols.Network {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.conns[account]; ok {
		return c.Network()
	}
	return in.states[account].Network
}

// serverOf derives the server part of a network address: Matrix
// @user:server / !room:server, XMPP user@server/resource, WhatsApp
// number@s.whatsapp.net.
func serverOf(id string) string {
	if id == "" {
		return ""
	}
	if strings.ContainsAny(id[:1], "@!#") {
		if i := strings.IndexByte(id, ':'); i >= 0 {
			return strings.ToLower(id[i+1:])
		}
		return ""
	}
	if i := strings.LastIndexByte(id, '@'); i >= 0 {
		s := id[i+1:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[:j]
		}
		return strings.ToLower(s)
	}
	return ""
}

func addrServer(a protocols.Address) string {
	if a.Server != "" {
		return strings.ToLower(a.Server)
	}
	return serverOf(a.ID)
}

// phoneDigits extracts a phone number from an address whose user part is
// one (WhatsApp JIDs, +4915…@host, tel:+49…), else "".
func phoneDigits(id string) string {
	user := strings.TrimPrefix(id, "tel:")
	if i := strings.IndexByte(user, '@'); i > 0 {
		user = user[:i]
	}
	if strings.HasPrefix(user, "@") { // Matrix localpart
		user = user[1:]
		if i := strings.IndexByte(user, ':'); i >= 0 {
			user = user[:i]
		}
	}
	var b strings.Builder
	for _, r := range user {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return ""
		}
	}
	if b.Len() < 7 {
		return ""
	}
	return b.String()
}

func normName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func (g *ingester) loadReach() error {
	if g.reachLoaded {
		return nil
	}
	var r int
	var server string
	err := g.row(`SELECT reachability, server FROM account_settings WHERE account = ?`, g.account).Scan(&r, &server)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	g.reach = Reachability(r)
	g.ownServer = server
	if g.ownServer == "" {
		g.ownServer = serverOf(g.account)
	}
	g.reachLoaded = true
	return nil
}

// reachable applies the account's reachability to a sender the user has not
// accepted.
func (g *ingester) reachable(from protocols.Address, id *identRow) (bool, error) {
	if id != nil && (id.consent == ConsentAccepted || id.contact) {
		return true, nil
	}
	if err := g.loadReach(); err != nil {
		return false, err
	}
	switch g.reach {
	case ContactsOnly:
		return false, nil
	case OwnServerOnly:
		s := addrServer(from)
		return s != "" && s == g.ownServer, nil
	}
	return true, nil
}

// ident finds the identity of addr; with create it makes one (and a new
// person) when missing.
func (g *ingester) ident(net protocols.Network, a protocols.Address, create bool, name string) (*identRow, error) {
	key := identKey{net, a.ID}
	// A nil entry: looked up in this batch, no such identity.
	r, known := g.idents[key]
	if known && (r != nil || !create) {
		return r, nil
	}
	var err error
	if known {
		err = sql.ErrNoRows
	} else {
		r = &identRow{}
		var consent, enc, contact int
		var lastNet string
		err = g.row(`SELECT i.id, i.person_id, i.consent, i.contact, i.encryption, i.name, p.last_network, p.name
			FROM identities i JOIN people p ON p.id = i.person_id WHERE i.network = ? AND i.addr_id = ?`,
			string(net), a.ID).Scan(&r.id, &r.person, &consent, &contact, &enc, &r.name, &lastNet, &r.personNm)
		if err == nil {
			r.consent, r.contact, r.enc, r.lastNet = Consent(consent), contact == 1, protocols.Encryption(enc), protocols.Network(lastNet)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		if !create {
			g.idents[key] = nil
			return nil, nil
		}
		pname := name
		if pname == "" {
			pname = a.ID
		}
		res, err := g.exec(`INSERT INTO people(name, norm_name) VALUES (?, ?)`, pname, normName(name))
		if err != nil {
			return nil, err
		}
		pid, _ := res.LastInsertId()
		acc := a.Account
		if acc == "" {
			acc = g.account
		}
		res, err = g.exec(`INSERT INTO identities(person_id, network, addr_id, account, server, name, phone) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			pid, string(net), a.ID, acc, addrServer(a), name, phoneDigits(a.ID))
		if err != nil {
			return nil, err
		}
		iid, _ := res.LastInsertId()
		r = &identRow{id: iid, person: PersonID(pid), name: name, personNm: pname}
		g.changed(ChangePeople, 0)
	default:
		return nil, err
	}
	g.idents[key] = r
	return r, nil
}

func (g *ingester) setConsent(r *identRow, c Consent) error {
	if r.consent == c {
		return nil
	}
	if _, err := g.exec(`UPDATE identities SET consent = ? WHERE id = ?`, int(c), r.id); err != nil {
		return err
	}
	r.consent = c
	return nil
}

// chatConv looks up the conversation a network chat of this account maps to.
func (g *ingester) chatConv(chat string) (ConversationID, error) {
	if chat == "" {
		return 0, nil
	}
	if c, ok := g.chats[chat]; ok {
		return c, nil
	}
	var id ConversationID
	err := g.row(`SELECT conversation_id FROM chats WHERE account = ? AND chat_id = ?`, g.account, chat).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	g.chats[chat] = id
	return id, nil
}

func (g *ingester) mapChat(net protocols.Network, chat string, conv ConversationID, group bool) error {
	if chat == "" {
		return nil
	}
	// Most messages arrive in a chat already mapped: a read is cheaper than
	// an upsert that rewrites the same row.
	if c, err := g.chatConv(chat); err != nil || c == conv {
		return err
	}
	if _, err := g.exec(`INSERT INTO chats(account, chat_id, network, conversation_id, grp) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(account, chat_id) DO UPDATE SET conversation_id = excluded.conversation_id`,
		g.account, chat, string(net), conv, boolInt(group)); err != nil {
		return err
	}
	g.chats[chat] = conv
	return nil
}

// directConv returns the person's one direct conversation, creating it.
func (g *ingester) directConv(r *identRow) (ConversationID, bool, error) {
	if d, ok := g.direct[r.person]; ok {
		return d.conv, d.request, nil
	}
	if g.direct == nil {
		g.direct = map[PersonID]directRow{}
	}
	var id ConversationID
	var req int
	err := g.row(`SELECT id, request FROM conversations WHERE kind = 1 AND person_id = ?`, r.person).Scan(&id, &req)
	if err == nil {
		g.direct[r.person] = directRow{id, req == 1}
		return id, req == 1, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	res, err := g.exec(`INSERT INTO conversations(kind, person_id, title, last_at) VALUES (1, ?, ?, 0)`, r.person, r.personNm)
	if err != nil {
		return 0, false, err
	}
	n, _ := res.LastInsertId()
	g.direct[r.person] = directRow{ConversationID(n), false}
	return ConversationID(n), false, nil
}

// groupConv returns the conversation of a group chat, creating it.
func (g *ingester) groupConv(net protocols.Network, chat protocols.Chat) (ConversationID, error) {
	id, err := g.chatConv(chat.ID)
	if err != nil || id != 0 {
		return id, err
	}
	title := chat.Name
	if title == "" {
		title = chat.ID
	}
	res, err := g.exec(`INSERT INTO conversations(kind, title, last_at) VALUES (2, ?, 0)`, title)
	if err != nil {
		return 0, err
	}
	n, _ := res.LastInsertId()
	id = ConversationID(n)
	return id, g.mapChat(net, chat.ID, id, true)
}

// markRequest flags a direct conversation as a request from r unless some
// identity of the person is already accepted.
func (g *ingester) markRequest(conv ConversationID, r *identRow, kind protocols.RequestKind) (bool, error) {
	var accepted int
	if err := g.row(`SELECT EXISTS(SELECT 1 FROM identities WHERE person_id = ? AND consent = 1)`, r.person).Scan(&accepted); err != nil {
		return false, err
	}
	if accepted == 1 {
		return false, nil
	}
	_, err := g.exec(`UPDATE conversations SET request = 1, request_kind = ?, request_from = ? WHERE id = ? AND request = 0`, int(kind), r.id, conv)
	if d, ok := g.direct[r.person]; ok && d.conv == conv {
		g.direct[r.person] = directRow{conv, true}
	}
	return true, err
}

func (g *ingester) delta(conv ConversationID) *convDelta {
	d := g.deltas[conv]
	if d == nil {
		d = &convDelta{lastAt: -1}
		g.deltas[conv] = d
	}
	return d
}

// flush applies the collected conversation updates: last_at only grows and
// the preview follows the newest message.
func (g *ingester) flush() error {
	if err := g.indexPending(); err != nil {
		return err
	}
	for conv, d := range g.deltas {
		if _, err := g.exec(`UPDATE conversations SET
			preview = CASE WHEN ? >= last_at THEN ? ELSE preview END,
			last_at = max(last_at, ?), unread = unread + ? WHERE id = ?`,
			d.lastAt, d.preview, d.lastAt, d.unread, conv); err != nil {
			return err
		}
	}
	return nil
}

// indexPending adds the batch's new messages to the full-text index in
// one statement. It runs before anything in the batch rewrites a body (the
// FTS update trigger must find the old text indexed) and at the end.
func (g *ingester) indexPending() error {
	for _, r := range g.grams {
		if err := indexGrams(g.exec, r.id, r.body); err != nil {
			return err
		}
	}
	g.grams = g.grams[:0]
	if g.ftsFrom == 0 {
		return nil
	}
	_, err := g.exec(`INSERT INTO messages_fts(rowid, body) SELECT id, body FROM messages
		WHERE id BETWEEN ? AND ? AND fts_later = 1 AND kind = 0 AND deleted = 0`, g.ftsFrom, g.ftsTo)
	g.ftsFrom, g.ftsTo = 0, 0
	return err
}

// gramRow is a stored message whose text needs the character index.
type gramRow struct {
	id   int64
	body string
}

// previewOf is the first line of a message, or a stand-in for attachments.
func previewOf(body string, atts []protocols.Attachment) string {
	if i := strings.IndexByte(body, '\n'); i >= 0 {
		body = body[:i]
	}
	if len(body) > 200 {
		body = body[:200]
	}
	if body == "" && len(atts) > 0 {
		return "[attachment] " + atts[0].Name
	}
	return body
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (g *ingester) message(m protocols.Message, historical bool) error {
	net := g.network(m.Sender)
	if net == "" {
		net = g.in.accountNetwork(g.account)
	}
	if net == "" {
		return fmt.Errorf("%w: message on account %q: unknown network", errUnstorable, g.account)
	}
	if m.EditOf != "" {
		return g.edit(m.Sender, m.EditOf, m.Body, m.FormattedBody, m.Chat.ID)
	}
	at := m.Sent
	if at.IsZero() {
		at = m.Received
	}
	if at.IsZero() {
		at = g.now
	}

	var conv ConversationID
	var ident *identRow
	request := false
	newRequest := false // this message opened the request
	// Our own message in a 1:1 chat whose peer the network did not name
	// (e.g. a Matrix DM before its m.direct entry is seen) belongs to the
	// conversation the chat is already mapped to — not to a "person" made
	// of the chat ID.
	var mapped ConversationID
	if !m.Chat.Group && m.Outgoing && m.Chat.Peer.IsZero() {
		var err error
		if mapped, err = g.chatConv(m.Chat.ID); err != nil {
			return err
		}
	}
	if mapped != 0 {
		conv = mapped
		var req int
		if err := g.row(`SELECT request FROM conversations WHERE id = ?`, conv).Scan(&req); err != nil {
			return err
		}
		request = req == 1
	} else if m.Chat.Group {
		if !m.Outgoing && !m.Sender.IsZero() {
			r, err := g.ident(net, m.Sender, false, "")
			if err != nil {
				return err
			}
			if r != nil && r.consent == ConsentBlocked {
				return nil
			}
			ident = r // a known member's name labels the line
		}
		var err error
		if conv, err = g.groupConv(net, m.Chat); err != nil {
			return err
		}
		var hidden, req int
		if err := g.row(`SELECT hidden, request FROM conversations WHERE id = ?`, conv).Scan(&hidden, &req); err != nil {
			return err
		}
		if hidden == 1 {
			return nil
		}
		request = req == 1
	} else {
		peer := g.directPeer(m, net)
		if peer.ID == "" {
			return fmt.Errorf("%w: direct message on %q without peer or chat", errUnstorable, g.account)
		}
		r, err := g.ident(net, peer, false, "")
		if err != nil {
			return err
		}
		if !m.Outgoing {
			if r != nil && r.consent == ConsentBlocked {
				return nil
			}
			ok, err := g.reachable(peer, r)
			if err != nil {
				return err
			}
			if !ok {
				g.in.log.Debug().Str("account", g.account).Msg("dropped message: sender outside reachability")
				return nil
			}
		}
		if r == nil {
			if r, err = g.ident(net, peer, true, m.Chat.Name); err != nil {
				return err
			}
		}
		if m.Outgoing && r.consent == ConsentUnknown {
			// The user wrote to them (from another device): that is consent.
			if err := g.setConsent(r, ConsentAccepted); err != nil {
				return err
			}
		}
		ident = r
		if conv, request, err = g.directConv(r); err != nil {
			return err
		}
		if err := g.mapChat(net, m.Chat.ID, conv, false); err != nil {
			return err
		}
		if !m.Outgoing && (r.consent == ConsentUnknown || r.consent == ConsentIgnored) && !request {
			if request, err = g.markRequest(conv, r, protocols.RequestMessage); err != nil {
				return err
			}
			newRequest = request
		}
	}

	state := StateReceived
	if m.Outgoing {
		state = StateSent
	}
	var atts string
	if len(m.Attachments) > 0 {
		b, _ := json.Marshal(m.Attachments)
		atts = string(b)
	}
	// Optional text goes in as NULL when empty (coalesce stores ''): the
	// driver copies every text argument into C memory, a NULL costs nothing.
	res, err := g.exec(`INSERT INTO messages(conversation_id, kind, client_id, network, account, network_id, chat_id, grp,
		sender, sender_server, sender_name, outgoing, body, formatted, at, encryption, state, reply_to, notice, attachments, fts_later, undecryptable)
		VALUES (?, 0, ?, ?, ?, ?, coalesce(?, ''), ?, ?, coalesce(?, ''), coalesce(?, ''), ?, ?, coalesce(?, ''), ?, ?, ?,
		coalesce(?, ''), coalesce(?, ''), coalesce(?, ''), 1, ?) ON CONFLICT DO NOTHING`,
		conv, nullStr(m.ClientID), string(net), g.account, nullStr(m.NetworkID), nullStr(m.Chat.ID), boolInt(m.Chat.Group),
		m.Sender.ID, nullStr(addrServer(m.Sender)), nullStr(senderName(ident, m)), boolInt(m.Outgoing), m.Body, nullStr(m.FormattedBody),
		toNanos(at), int(m.Encryption), int(state), nullStr(m.ReplyTo), nullStr(m.Notice), nullStr(atts), boolInt(m.Undecryptable))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if done, err := g.decrypted(m, net); err != nil || done {
			return err
		}
		return g.echo(m, net)
	}
	msgID, _ := res.LastInsertId()
	if g.ftsFrom == 0 {
		g.ftsFrom = msgID
	}
	g.ftsTo = msgID
	if hasGrams(m.Body) {
		g.grams = append(g.grams, gramRow{msgID, m.Body})
	}
	for _, rc := range m.Reactions {
		if err := g.addReaction(MessageID(msgID), rc.Key, rc.Sender.ID, false); err != nil {
			return err
		}
	}
	d := g.delta(conv)
	if toNanos(at) >= d.lastAt {
		d.lastAt, d.preview = toNanos(at), previewOf(m.Body, m.Attachments)
	}
	silent := historical || m.Outgoing || (ident != nil && ident.consent == ConsentIgnored)
	if !silent {
		d.unread++
	}
	if ident != nil && !m.Outgoing {
		if ident.enc != m.Encryption && !m.Undecryptable {
			if _, err := g.exec(`UPDATE identities SET encryption = ? WHERE id = ?`, int(m.Encryption), ident.id); err != nil {
				return err
			}
			ident.enc = m.Encryption
		}
		if g.typing == nil {
			g.typing = map[ConversationID]bool{}
		}
		g.typing[conv] = false
	}
	if ident != nil && !historical && ident.lastNet != net {
		if _, err := g.exec(`UPDATE people SET last_network = ? WHERE id = ?`, string(net), ident.person); err != nil {
			return err
		}
		ident.lastNet = net
	}
	g.changed(ChangeMessages, conv)
	if request {
		g.changed(ChangeRequests, 0)
	} else {
		g.changed(ChangeConversations, 0)
	}
	// A pending request notifies once, when it opens: a stranger cannot
	// ring the bell with every further message.
	if !silent && (!request || newRequest) {
		g.changed(ChangeIncoming, conv)
	}
	return nil
}

// directPeer is the other party of a direct message: the sender, or for
// the user's own messages the chat's peer (else the chat itself).
func (g *ingester) directPeer(m protocols.Message, net protocols.Network) protocols.Address {
	peer := m.Sender
	switch {
	case (m.Outgoing || peer.IsZero()) && !m.Chat.Peer.IsZero():
		peer = m.Chat.Peer
	case m.Outgoing || peer.IsZero():
		peer = protocols.Address{Network: net, Account: g.account, ID: m.Chat.ID}
	}
	return peer
}

func senderName(r *identRow, m protocols.Message) string {
	if m.Outgoing {
		return ""
	}
	if r != nil && r.name != "" {
		return r.name
	}
	return ""
}

// echo handles a message we already hold: our own send coming back (by
// client ID: carbons, Matrix echo) gets its network ID and at least "sent".
func (g *ingester) echo(m protocols.Message, net protocols.Network) error {
	if m.ClientID == "" {
		return nil // plain duplicate by network ID
	}
	var id MessageID
	var conv ConversationID
	var netID sql.NullString
	err := g.row(`SELECT id, conversation_id, network_id FROM messages WHERE client_id = ?`, m.ClientID).Scan(&id, &conv, &netID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if !netID.Valid && m.NetworkID != "" {
		var taken int
		if err := g.row(`SELECT EXISTS(SELECT 1 FROM messages WHERE network = ? AND network_id = ?)`, string(net), m.NetworkID).Scan(&taken); err != nil {
			return err
		}
		if taken == 0 {
			if _, err := g.exec(`UPDATE messages SET network_id = ? WHERE id = ?`, m.NetworkID, id); err != nil {
				return err
			}
		}
	}
	if _, err := g.exec(`UPDATE messages SET state = ?, fail_reason = '' WHERE id = ? AND state = ?`, int(StateSent), id, int(StateQueued)); err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return nil
}

// target finds the message an edit, delete, reaction or receipt points at,
// by network ID or by our client ID.
func (g *ingester) target(net protocols.Network, ref string) (id MessageID, conv ConversationID, outgoing bool, sender string, ok bool, err error) {
	var out int
	err = g.row(`SELECT id, conversation_id, outgoing, sender FROM messages WHERE network = ? AND network_id = ?
		UNION ALL SELECT id, conversation_id, outgoing, sender FROM messages WHERE client_id = ? LIMIT 1`,
		string(net), ref, ref).Scan(&id, &conv, &out, &sender)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, "", false, nil
	}
	return id, conv, out == 1, sender, err == nil, err
}

// mayAlter says whether from may edit or retract a message: only its author.
// Our own messages may be changed by our other devices, never by a known
// contact.
func (g *ingester) mayAlter(net protocols.Network, from protocols.Address, outgoing bool, sender string) (bool, error) {
	if !outgoing {
		return from.ID == sender, nil
	}
	if from.IsZero() || from.ID == g.account {
		return true, nil
	}
	r, err := g.ident(net, from, false, "")
	return r == nil, err
}

func (g *ingester) edit(from protocols.Address, targetID, body, formatted, chat string) error {
	if err := g.indexPending(); err != nil {
		return err
	}
	net := g.network(from)
	id, conv, out, sender, ok, err := g.target(net, targetID)
	if err != nil || !ok {
		return err
	}
	if allowed, err := g.mayAlter(net, from, out, sender); err != nil || !allowed {
		return err
	}
	res, err := g.exec(`UPDATE messages SET body = ?, formatted = ?, edited = 1 WHERE id = ? AND deleted = 0`, body, formatted, id)
	if err != nil {
		return err
	}
	// The update trigger took the old text out of the character index.
	if n, _ := res.RowsAffected(); n > 0 {
		if err := indexGrams(g.exec, int64(id), body); err != nil {
			return err
		}
	}
	g.changed(ChangeMessages, conv)
	return g.refreshPreview(conv)
}

func (g *ingester) delete(e protocols.DeleteEvent) error {
	if err := g.indexPending(); err != nil {
		return err
	}
	net := g.network(e.From)
	id, conv, out, sender, ok, err := g.target(net, e.TargetID)
	if err != nil || !ok {
		return err
	}
	if allowed, err := g.mayAlter(net, e.From, out, sender); err != nil || !allowed {
		return err
	}
	// The retracted text is dropped: it leaves search and previews, and the
	// store no longer holds what the sender took back.
	if _, err := g.exec(`UPDATE messages SET deleted = 1, body = '', formatted = '', attachments = '' WHERE id = ?`, id); err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return g.refreshPreview(conv)
}

// DeletedPreview stands in for a retracted message in the list preview.
const DeletedPreview = "(message deleted)"

func (g *ingester) refreshPreview(conv ConversationID) error {
	if _, err := g.exec(`UPDATE conversations SET preview = coalesce((SELECT CASE WHEN deleted = 1 THEN ? ELSE substr(body, 1, 200) END
		FROM messages WHERE conversation_id = ? AND kind = 0 ORDER BY at DESC, id DESC LIMIT 1), '') WHERE id = ?`,
		DeletedPreview, conv, conv); err != nil {
		return err
	}
	// Delete deltas of this batch would overwrite it; fold them in.
	if d, ok := g.deltas[conv]; ok {
		var p string
		if err := g.row(`SELECT coalesce((SELECT CASE WHEN deleted = 1 THEN ? ELSE body END FROM messages WHERE conversation_id = ? AND kind = 0 ORDER BY at DESC, id DESC LIMIT 1), '')`, DeletedPreview, conv).Scan(&p); err != nil {
			return err
		}
		d.preview = previewOf(p, nil)
	}
	g.changed(ChangeConversations, 0)
	return nil
}

func (g *ingester) reaction(e protocols.ReactionEvent) error {
	net := g.network(e.From)
	id, conv, _, _, ok, err := g.target(net, e.TargetID)
	if err != nil || !ok {
		return err
	}
	// The user's own reactions are stored under one sender (""), so the
	// copy applied when the user reacted and the network's echo of it are
	// one row.
	mine := g.self(net, e.From)
	sender := e.From.ID
	if mine {
		sender = ""
	}
	switch {
	case e.Remove && mine:
		_, err = g.exec(`DELETE FROM reactions WHERE message_id = ? AND key = ? AND (mine = 1 OR sender = ?)`, id, e.Key, e.From.ID)
	case e.Remove:
		_, err = g.exec(`DELETE FROM reactions WHERE message_id = ? AND key = ? AND sender = ?`, id, e.Key, sender)
	default:
		err = g.addReaction(id, e.Key, sender, mine)
	}
	if err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return nil
}

// self says whether from is the user: no address (a change the user made
// here), the account itself, or the address a default account ID
// ("network:address") names.
func (g *ingester) self(net protocols.Network, from protocols.Address) bool {
	return from.IsZero() || from.ID == g.account || g.account == string(net)+":"+from.ID
}

func (g *ingester) receipt(e protocols.ReceiptEvent) error {
	net := g.network(e.From)
	to := StateDelivered
	if e.Kind == protocols.ReceiptRead {
		to = StateRead
	}
	for _, ref := range e.IDs {
		id, conv, out, _, ok, err := g.target(net, ref)
		if err != nil {
			return err
		}
		if !ok || !out {
			continue
		}
		// States only move forward; failed messages are left alone.
		if _, err := g.exec(`UPDATE messages SET state = ?, fail_reason = '' WHERE id = ? AND state IN (1, 2, 3) AND state < ?`, int(to), id, int(to)); err != nil {
			return err
		}
		if to == StateRead {
			// A read marker covers everything before it in the conversation.
			if _, err := g.exec(`UPDATE messages SET state = 4 WHERE conversation_id = ? AND outgoing = 1 AND state IN (2, 3)
				AND at <= (SELECT at FROM messages WHERE id = ?)`, conv, id); err != nil {
				return err
			}
		}
		g.changed(ChangeMessages, conv)
	}
	return nil
}

func (g *ingester) typingEv(e protocols.TypingEvent) error {
	net := g.network(e.From)
	r, err := g.ident(net, e.From, false, "")
	if err != nil || (r != nil && r.consent == ConsentBlocked) {
		return err
	}
	conv, err := g.chatConv(e.Chat)
	if err != nil {
		return err
	}
	if conv == 0 && r != nil {
		if err := g.row(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, r.person).Scan(&conv); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if conv == 0 {
		return nil
	}
	if g.typing == nil {
		g.typing = map[ConversationID]bool{}
	}
	g.typing[conv] = e.Typing
	return nil
}

func (g *ingester) presence(e protocols.PresenceEvent) error {
	net := g.network(e.From)
	res, err := g.exec(`UPDATE identities SET presence = ? WHERE network = ? AND addr_id = ?`, int(e.State), string(net), e.From.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		g.changed(ChangePeople, 0)
	}
	return nil
}

func (g *ingester) contact(e protocols.ContactEvent) error {
	net := g.network(e.Contact)
	r, err := g.ident(net, e.Contact, !e.Removed, e.Name)
	if err != nil || r == nil {
		return err
	}
	// The batch's cached row follows every change, so later messages of
	// the batch see it (e.g. carry the roster name).
	if e.Removed {
		_, err := g.exec(`UPDATE identities SET contact = 0 WHERE id = ?`, r.id)
		r.contact = false
		g.changed(ChangePeople, 0)
		return err
	}
	if _, err := g.exec(`UPDATE identities SET contact = 1, name = CASE WHEN ? <> '' THEN ? ELSE name END WHERE id = ?`, e.Name, e.Name, r.id); err != nil {
		return err
	}
	r.contact = true
	if e.Name != "" {
		r.name = e.Name
	}
	if e.Name != "" && r.personNm == e.Contact.ID {
		// The person still carries its address as name: the roster name is better.
		if _, err := g.exec(`UPDATE people SET name = ?, norm_name = ? WHERE id = ?`, e.Name, normName(e.Name), r.person); err != nil {
			return err
		}
		if _, err := g.exec(`UPDATE conversations SET title = ? WHERE kind = 1 AND person_id = ?`, e.Name, r.person); err != nil {
			return err
		}
		r.personNm = e.Name
	}
	// The user's own contact list counts as acceptance (a block stands).
	if r.consent != ConsentBlocked {
		if err := g.setConsent(r, ConsentAccepted); err != nil {
			return err
		}
		if _, err := g.exec(`UPDATE conversations SET request = 0 WHERE kind = 1 AND person_id = ? AND request = 1`, r.person); err != nil {
			return err
		}
		delete(g.direct, r.person)
	}
	g.changed(ChangePeople, 0)
	g.changed(ChangeConversations, 0)
	g.changed(ChangeRequests, 0)
	return nil
}

func (g *ingester) request(e protocols.RequestEvent) error {
	net := g.network(e.From)
	r, err := g.ident(net, e.From, false, "")
	if err != nil {
		return err
	}
	if r != nil && r.consent == ConsentBlocked {
		return nil
	}
	if ok, err := g.reachable(e.From, r); err != nil || !ok {
		return err
	}
	if r == nil {
		if r, err = g.ident(net, e.From, true, e.Name); err != nil {
			return err
		}
	}
	at := e.At
	if at.IsZero() {
		at = g.now
	}
	var conv ConversationID
	var preview string
	if e.Chat.Group {
		if conv, err = g.groupConv(net, e.Chat); err != nil {
			return err
		}
		if r.consent != ConsentAccepted {
			res, err := g.exec(`UPDATE conversations SET request = 1, request_kind = ?, request_from = ? WHERE id = ? AND last_at = 0`,
				int(e.Kind), r.id, conv)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 && r.consent != ConsentIgnored {
				g.changed(ChangeIncoming, conv)
			}
		}
		name := e.Chat.Name
		if name == "" {
			name = e.Chat.ID
		}
		preview = "invited you to " + name
	} else {
		var request bool
		if conv, request, err = g.directConv(r); err != nil {
			return err
		}
		if err := g.mapChat(net, e.Chat.ID, conv, false); err != nil {
			return err
		}
		if r.consent == ConsentAccepted {
			// Already accepted: answer nothing here, the user decided before.
			return nil
		}
		if !request {
			marked, err := g.markRequest(conv, r, e.Kind)
			if err != nil {
				return err
			}
			if marked && r.consent != ConsentIgnored {
				g.changed(ChangeIncoming, conv)
			}
		}
		switch e.Kind {
		case protocols.RequestSubscription:
			preview = "wants to add you as a contact"
		case protocols.RequestInvite:
			preview = "invited you to a chat"
		default:
			preview = "sent a message request"
		}
	}
	d := g.delta(conv)
	if toNanos(at) >= d.lastAt {
		d.lastAt, d.preview = toNanos(at), preview
	}
	g.changed(ChangeRequests, 0)
	return nil
}

func (g *ingester) chat(e protocols.ChatEvent) error {
	net := g.network(protocols.Address{})
	if len(e.Members) > 0 && e.Members[0].Network != "" {
		net = e.Members[0].Network
	}
	if e.Chat.Group {
		conv, err := g.groupConv(net, e.Chat)
		if err != nil {
			return err
		}
		if _, err := g.exec(`UPDATE conversations SET title = CASE WHEN ? <> '' THEN ? ELSE title END, encryption = ? WHERE id = ?`,
			e.Chat.Name, e.Chat.Name, int(e.Encryption), conv); err != nil {
			return err
		}
		g.changed(ChangeConversations, 0)
		g.changed(ChangeMessages, conv)
		return nil
	}
	// A 1:1 room (Matrix DM): map it to the one other member we know.
	var peer *identRow
	for _, m := range e.Members {
		if m.ID == g.account {
			continue
		}
		r, err := g.ident(net, m, false, "")
		if err != nil {
			return err
		}
		if r != nil {
			if peer != nil {
				return nil // ambiguous: leave unmapped
			}
			peer = r
		}
	}
	if peer == nil {
		return nil
	}
	conv, _, err := g.directConv(peer)
	if err != nil {
		return err
	}
	return g.mapChat(net, e.Chat.ID, conv, false)
}

func (g *ingester) keyChange(e protocols.KeyChangeEvent) error {
	net := g.network(e.Contact)
	r, err := g.ident(net, e.Contact, false, "")
	if err != nil {
		return err
	}
	if r != nil && r.consent == ConsentBlocked {
		return nil
	}
	conv, err := g.chatConv(e.Chat)
	if err != nil {
		return err
	}
	if conv == 0 && r != nil {
		if conv, _, err = g.directConv(r); err != nil {
			return err
		}
	}
	if conv == 0 {
		return nil // a stranger's key in no chat of ours
	}
	who := e.Contact.ID
	if r != nil && r.personNm != "" {
		who = r.personNm
	}
	body := fmt.Sprintf("%s: %s", who, e.Kind)
	if e.DeviceID != "" {
		body += " " + e.DeviceID
	}
	if e.Fingerprint != "" {
		body += " (fingerprint " + groupFingerprint(e.Fingerprint) + ")"
	}
	at := e.At
	if at.IsZero() {
		at = g.now
	}
	if _, err := g.exec(`INSERT INTO messages(conversation_id, kind, network, account, sender, body, at, state)
		VALUES (?, 1, ?, ?, ?, ?, ?, 0)`, conv, string(net), g.account, e.Contact.ID, body, toNanos(at)); err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return nil
}

// groupFingerprint splits a fingerprint into groups of four for reading aloud.
func groupFingerprint(fp string) string {
	fp = strings.ReplaceAll(fp, " ", "")
	var b strings.Builder
	for i, r := range []rune(fp) {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
