package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"polyglot/inbox"
	"polyglot/internal/errtext"
)

// screenID is the root's state: which screen has the keyboard.
type screenID int

const (
	screenInbox screenID = iota
	screenConversation
	screenRequests
	screenPerson
	screenSearch
	screenAccounts
	screenVerify
)

// rootModel owns the children, the change feed, the header tabs and the
// status bar, and routes every message to the child on screen.
type rootModel struct {
	env *env

	screen   screenID
	prev     []screenID // where Back returns to
	list     *inboxList
	uploads  []inbox.UploadProgress // files going up now (status bar)
	conv     *conversationView
	reqs     *requestsView
	person   *personView
	search   *searchView
	acctView *accountsView
	verify   *verifyView
	help     *helpView
	showHelp bool
	// newConv is the new-conversation form over the inbox (newconv.go).
	newConv *newConvForm
	// link is L's form over a conversation (bridgelink.go).
	link *linkForm

	accounts  []AccountStatus
	status    string
	statusErr bool
	// confirmQuit: ctrl+c was pressed with a draft on screen.
	confirmQuit bool

	// keyQueue holds keys in arrival order while the rest of a burst waits
	// for a command its key started (keysWaiting); keyActing: a key from the
	// queue is acting.
	keyQueue    []tea.KeyMsg
	keysWaiting bool
	keyActing   bool

	feed        <-chan inbox.Change
	unsubscribe func()
	notify      *notifier

	width, height int
}

func newRoot(o Options) *rootModel {
	e := newEnv(o)
	m := &rootModel{env: e, list: newInboxList(e), reqs: newRequests(e), help: newHelp(e), acctView: newAccounts(e),
		verify: newVerify(e), notify: newNotifier(o, e)}
	if e.core != nil {
		m.feed, m.unsubscribe = e.core.Subscribe()
	}
	m.width, m.height = 80, 24
	m.layout()
	return m
}

// Close stops the change subscription.
func (m *rootModel) Close() error { m.close(); return nil }

func (m *rootModel) close() {
	if m.unsubscribe != nil {
		m.unsubscribe()
		m.unsubscribe = nil
	}
}

func (m *rootModel) Init() tea.Cmd {
	return tea.Batch(
		m.list.refresh(),
		m.reqs.refresh(),
		loadAccounts(m.env.core, m.env.accounts),
		loadVerifications(m.env.verify),
		waitChange(m.feed),
		m.notify.init(),
		tickClock,
	)
}

// clockMsg redraws what ages with the clock (relative times such as "now"
// and "5m" in the lists) once a minute. It is the only timer of an idle
// screen: everything else redraws when something changes.
type clockMsg struct{}

// clockEvery is how stale a relative time may get: its unit is a minute.
const clockEvery = time.Minute

// tickClock waits clockEvery. It is one value (not built per call) so
// tests can recognise and skip it.
var tickClock tea.Cmd = func() tea.Msg {
	t := time.NewTimer(clockEvery)
	defer t.Stop()
	<-t.C
	return clockMsg{}
}

// bodyHeight is the lines between the header and the feedback and status
// bars.
func (m *rootModel) bodyHeight() int {
	h := m.height - 2 - len(m.feedback())
	if h < 1 {
		h = 1
	}
	return h
}

// feedback is the answer to what the user just did (or the quit question),
// wrapped onto lines of its own above the status bar so no width cuts it;
// at most a third of the screen.
func (m *rootModel) feedback() []string {
	st := m.env.st
	text, style := m.status, st.dim
	switch {
	case m.confirmQuit:
		text, style = "Quit Polyglot? Your draft is kept. y quits, any other key stays", st.warn
	case m.statusErr:
		// Every error that reaches the status line, whichever screen
		// made it, reads without our packages' "inbox: " chains.
		text, style = errtext.Plain(text), st.errStyle
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	lines := wrapBlock(text, max(m.width, 1))
	if n := max(m.height/3, 1); len(lines) > n {
		lines = lines[:n]
	}
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return lines
}

func (m *rootModel) layout() {
	w, h := m.width, m.bodyHeight()
	m.help.setSize(w, h)
	for _, s := range m.screens() {
		s.setSize(w, h)
	}
}

// screens are the screens the root holds now (a conversation, person or
// search only once opened).
func (m *rootModel) screens() []screen {
	all := []screen{m.list, m.reqs, m.acctView, m.verify}
	if m.conv != nil {
		all = append(all, m.conv)
	}
	if m.person != nil {
		all = append(all, m.person)
	}
	if m.search != nil {
		all = append(all, m.search)
	}
	return all
}

// current is the screen on screen. It is never nil: a screen not opened
// yet (which m.screen never names) falls back to the inbox list.
func (m *rootModel) current() screen {
	switch {
	case m.screen == screenConversation && m.conv != nil:
		return m.conv
	case m.screen == screenRequests:
		return m.reqs
	case m.screen == screenPerson && m.person != nil:
		return m.person
	case m.screen == screenSearch && m.search != nil:
		return m.search
	case m.screen == screenAccounts:
		return m.acctView
	case m.screen == screenVerify:
		return m.verify
	}
	return m.list
}

func (m *rootModel) push(s screenID) {
	if m.screen != s {
		m.prev = append(m.prev, m.screen)
	}
	m.screen = s
}

func (m *rootModel) back() tea.Cmd {
	var cmds []tea.Cmd
	if m.screen == screenConversation && m.conv != nil {
		cmds = append(cmds, m.conv.leave())
	}
	m.pop()
	return tea.Batch(append(cmds, m.refreshScreen())...)
}

// quit saves the open conversation's draft, then ends the program.
func (m *rootModel) quit() tea.Cmd { return tea.Sequence(m.keepConvDraft(), tea.Quit) }

// keepConvDraft saves the open conversation's draft.
func (m *rootModel) keepConvDraft() tea.Cmd {
	if m.conv == nil {
		return nil
	}
	return m.conv.keepDraft()
}

// askQuit is ctrl+c: with a draft in the composer on screen it asks first.
func (m *rootModel) askQuit() tea.Cmd {
	if m.screen == screenConversation && m.conv != nil && strings.TrimSpace(m.conv.draft()) != "" {
		m.confirmQuit = true
		return nil
	}
	return m.quit()
}

func (m *rootModel) pop() {
	if n := len(m.prev); n > 0 {
		m.screen = m.prev[n-1]
		m.prev = m.prev[:n-1]
	} else {
		m.screen = screenInbox
	}
}

// refreshScreen re-reads what the current screen shows.
func (m *rootModel) refreshScreen() tea.Cmd { return m.current().reload() }

func (m *rootModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	before := len(m.feedback())
	_, cmd := m.update(msg)
	if len(m.feedback()) != before {
		m.layout() // the feedback lines take body lines
	}
	return m, cmd
}

func (m *rootModel) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if cmd, ok := m.onExtra(msg); ok {
		return m, cmd
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.env.pics != nil {
			m.env.pics.readCellSize() // a new font size comes as a resize
		}
		m.layout()
		if m.conv != nil {
			// A new size may need the pictures at a new size.
			return m, m.conv.pictureWork()
		}
		return m, nil

	// Results from the core.
	case conversationsMsg:
		m.list.onConversations(msg)
		return m, m.errStatus("loading conversations", msg.Err)
	case requestsMsg:
		m.reqs.onRequests(msg)
		return m, m.errStatus("loading requests", msg.Err)
	case convHeaderMsg:
		if m.conv != nil {
			m.conv.onHeader(msg)
			// Now that it is known whether this is a request.
			return m, m.conv.fetchPictures()
		}
		return m, nil
	case picMsg:
		if m.conv != nil {
			return m, m.conv.onPicture(msg)
		}
		return m, nil
	case picSentMsg:
		if m.conv != nil {
			return m, m.conv.onPictureSent(msg)
		}
		return m, nil
	case sixelMsg:
		if m.conv != nil {
			return m, m.conv.onSixel(msg)
		}
		return m, nil
	case messagesMsg:
		var cmd tea.Cmd
		if m.conv != nil {
			cmd = m.conv.onMessages(msg)
		}
		return m, tea.Batch(cmd, m.errStatus("loading messages", msg.Err))
	case jumpMsg:
		var cmd tea.Cmd
		if m.conv != nil {
			cmd = m.conv.onJump(msg)
		}
		return m, tea.Batch(cmd, m.errStatus("loading messages", msg.Err))
	case planMsg:
		var cmd tea.Cmd
		if m.conv != nil {
			cmd = m.conv.onPlan(msg)
		}
		return m, cmd
	case personMsg:
		if m.person != nil {
			m.person.onPerson(msg)
		}
		return m, m.errStatus("loading person", msg.Err)
	case searchMsg:
		if m.search != nil {
			m.search.onResults(msg)
		}
		return m, nil
	case accountsMsg:
		m.accounts = msg.States
		m.acctView.onStatuses(msg.States)
		return m, m.scheduleTick()
	case accountOpMsg:
		m.status, m.statusErr = msg.Text, msg.Err != nil
		return m, loadAccounts(m.env.core, m.env.accounts)
	case addDoneMsg:
		return m, m.acctView.onAddDone(msg)
	case clockMsg:
		return m, tickClock // View reads the clock
	case linkPromptMsg:
		return m, tea.Batch(m.acctView.onLinkPrompt(msg), m.scheduleTick())
	case accountsTickMsg:
		m.acctView.ticked()
		if m.screen == screenAccounts {
			return m, loadAccounts(m.env.core, m.env.accounts)
		}
		return m, nil
	case verificationsMsg:
		var cmd tea.Cmd
		for _, it := range m.verify.onVerifications(msg.Items) {
			cmd = m.notify.verificationRequest(verifyWho(it, notifyTextMax))
		}
		return m, cmd
	case verifyStartedMsg:
		if msg.Err != nil {
			m.status, m.statusErr = "verification: "+msg.Err.Error(), true
			return m, nil
		}
		m.status = ""
		m.verify.show(msg.V.Txn)
		m.push(screenVerify)
		return m, loadVerifications(m.env.verify)
	case sentMsg:
		if m.conv != nil {
			return m, m.conv.onSent(msg)
		}
		return m, nil
	case statusMsg:
		m.status, m.statusErr = msg.Text, msg.Err
		return m, nil
	case actionDoneMsg:
		if m.conv != nil {
			return m, m.conv.onAction(msg)
		}
		return m, nil
	case doneMsg:
		if msg.Err != nil {
			m.status, m.statusErr = msg.What+" failed: "+msg.Err.Error(), true
		} else if msg.What != "" {
			m.status, m.statusErr = msg.What, false
		}
		return m, m.refreshScreen()
	case changesMsg:
		return m, tea.Batch(m.onChanges(msg.Changes), m.notify.onChanges(msg.Changes, m.onScreen()), waitChange(m.feed))
	case tea.FocusMsg:
		m.notify.onFocus(true)
		m.env.away = false
		// The user is back: accounts waiting to retry try now.
		wake := reconnectNow(m.env.accounts, false)
		if m.screen == screenConversation && m.conv != nil {
			return m, tea.Batch(wake, m.conv.back())
		}
		return m, wake
	case tea.BlurMsg:
		m.notify.onFocus(false)
		m.env.away = true
		return m, nil
	case unreadMsg:
		return m, m.notify.onUnread(msg)
	case alertMsg:
		return m, m.notify.onAlert(msg)
	case feedClosedMsg:
		m.feed = nil
		return m, nil

	// Navigation.
	case openConversationMsg:
		var keep tea.Cmd
		if m.conv != nil {
			keep = m.conv.keepDraft()
		}
		m.conv = newConversation(m.env, msg.ID)
		m.conv.setSize(m.width, m.bodyHeight())
		m.push(screenConversation)
		return m, tea.Batch(keep, m.conv.open())
	case draftMsg:
		if m.conv != nil {
			m.conv.onDraft(msg)
		}
		return m, nil
	case openMessageMsg:
		var keep tea.Cmd
		if m.conv != nil {
			keep = m.conv.keepDraft()
		}
		m.conv = newConversation(m.env, msg.Conv)
		m.conv.setSize(m.width, m.bodyHeight())
		m.push(screenConversation)
		return m, tea.Batch(keep, m.conv.openAt(msg.ID))
	case openPersonMsg:
		m.person = newPerson(m.env, msg.ID)
		m.person.setSize(m.width, m.bodyHeight())
		m.push(screenPerson)
		return m, m.person.refresh()
	case openRequestsMsg:
		m.push(screenRequests)
		return m, m.reqs.refresh()
	case openSearchMsg:
		m.search = newSearch(m.env)
		m.search.setSize(m.width, m.bodyHeight())
		m.push(screenSearch)
		return m, nil
	case backMsg:
		return m, m.back()
	}

	if k, ok := msg.(tea.KeyMsg); ok && !m.keyActing {
		m.keyQueue = append(m.keyQueue, k)
		if m.keysWaiting {
			return m, nil // after the burst before it
		}
		return m, m.typeKeys()
	}
	if _, ok := msg.(keysResumeMsg); ok {
		m.keysWaiting = false
		return m, m.typeKeys()
	}
	if k, ok := msg.(tea.KeyMsg); ok {
		if m.confirmQuit {
			// y (or ctrl+c again) quits; any other key stays.
			m.confirmQuit = false
			if k.String() == "y" || k.String() == "ctrl+c" {
				return m, m.quit()
			}
			return m, nil
		}
		switch {
		case k.String() == "ctrl+c":
			return m, m.askQuit()
		case key.Matches(k, m.env.keys.Suspend) && m.env.remote:
			return m, cmdOf(statusMsg{Text: keyName(m.env.keys.Suspend) + " suspends only a local polyglot: this screen is served by the core; " + keyName(m.env.keys.Quit) + " closes it and the core keeps running"})
		case key.Matches(k, m.env.keys.Suspend):
			return m, tea.Batch(m.keepConvDraft(), tea.Suspend)
		}
		if cmd, ok := m.extraKey(k); ok {
			return m, cmd
		}
		if m.showHelp {
			if m.help.Update(msg) {
				m.showHelp = false
			}
			return m, nil
		}
		if m.inList() {
			switch {
			case key.Matches(k, m.env.keys.Help):
				m.showHelp = true
				return m, nil
			case key.Matches(k, m.env.keys.Quit):
				return m, m.quit()
			}
		}
		if key.Matches(k, m.env.keys.Help) && !m.typing() {
			m.showHelp = true
			return m, nil
		}
		if key.Matches(k, m.env.keys.Verify) && m.screen != screenVerify && !m.typing() && !m.current().asking() {
			m.status = ""
			return m, m.verifyKey()
		}
		if key.Matches(k, m.env.keys.Accounts) && m.screen != screenAccounts && !m.typing() && !m.current().asking() {
			m.status = ""
			m.push(screenAccounts)
			m.acctView.opened()
			return m, tea.Batch(reconnectNow(m.env.accounts, false), loadAccounts(m.env.core, m.env.accounts))
		}
		m.status = ""
	}
	if mm, ok := msg.(tea.MouseMsg); ok && m.showHelp {
		m.help.Update(mm)
		return m, nil
	}
	return m, m.updateChild(msg)
}

// isBurst says k holds several keys that arrived in one read (fast typing
// over SSH, key repeat, tmux send-keys "jjj"): Bubble Tea hands them over as
// one KeyMsg with several runes. A bracketed paste is not keys.
func isBurst(k tea.KeyMsg) bool {
	return k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste && !k.Alt
}

// namedKeys are the names Bubble Tea gives its special keys ("end",
// "enter", "up", "ctrl+c", "f5", with and without "alt+").
var namedKeys = func() map[string]bool {
	names := map[string]bool{}
	for t := tea.KeyType(-128); t < 128; t++ {
		if t == tea.KeyRunes {
			continue
		}
		if n := (tea.Key{Type: t}).String(); n != "" {
			names[n], names["alt+"+n] = true, true
		}
	}
	return names
}()

// isKeyNameWord says k is a word typed in one read whose text is also a
// key's name: Bubble Tea hands "end" typed fast (over SSH, tmux
// send-keys) as one KeyMsg whose String() is "end", which every binding
// for the End key matches. Such a word is handed over letter by letter.
func isKeyNameWord(k tea.KeyMsg) bool {
	return k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste && namedKeys[k.String()]
}

// keysResumeMsg: the command a burst's key started has delivered its
// result; the queued keys go on.
type keysResumeMsg struct{}

// typeKeys makes the queued keys act, in order, as if typed one by one: a
// key of a burst that starts a command (opening a screen, loading rows)
// has its result delivered before the next key acts, and keys arriving
// meanwhile wait their turn. Once a text field has the keyboard the rest
// of a burst goes to it whole, as typed text.
func (m *rootModel) typeKeys() tea.Cmd {
	var cmds []tea.Cmd
	for len(m.keyQueue) > 0 {
		k := m.keyQueue[0]
		split := isBurst(k) && !m.textFocus() || isKeyNameWord(k)
		if split {
			rest := k
			rest.Runes = k.Runes[1:]
			m.keyQueue[0] = rest
			k = tea.KeyMsg{Type: tea.KeyRunes, Runes: k.Runes[:1]}
		} else {
			m.keyQueue = m.keyQueue[1:]
		}
		m.keyActing = true
		_, cmd := m.Update(k)
		m.keyActing = false
		if cmd == nil {
			continue
		}
		if split {
			m.keysWaiting = true
			return tea.Batch(append(cmds, tea.Sequence(cmd, cmdOf(keysResumeMsg{})))...)
		}
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// textFocus says a text field on screen has the keyboard (the composer, a
// one-key question on a message, the search field, a form).
func (m *rootModel) textFocus() bool { return m.typing() }

// onScreen is the conversation the user is reading, 0 when none.
func (m *rootModel) onScreen() inbox.ConversationID {
	if m.screen == screenConversation && m.conv != nil && !m.showHelp {
		return m.conv.conversation()
	}
	return 0
}

// typing says a text field on screen takes plain letters.
func (m *rootModel) typing() bool { return m.current().capturesText() }

// scheduleTick keeps the retry countdown moving while the accounts screen
// shows one; the chain stops when the screen closes.
func (m *rootModel) scheduleTick() tea.Cmd {
	if m.screen != screenAccounts || !m.acctView.startTick() {
		return nil
	}
	return tickAccounts
}

// inList says whether the screen is a list where q quits.
func (m *rootModel) inList() bool {
	return m.screen == screenInbox || m.screen == screenRequests
}

func (m *rootModel) updateChild(msg tea.Msg) tea.Cmd { return m.current().Update(msg) }

// verifyKey answers V: a verification waiting for the user comes first;
// otherwise it starts one with the person on screen, or shows the
// verification screen.
func (m *rootModel) verifyKey() tea.Cmd {
	vc := m.env.verify
	if vc != nil {
		if m.verify.pending() {
			m.verify.show("")
			m.push(screenVerify)
			return loadVerifications(vc)
		}
	}
	// A WhatsApp contact is verified by comparing the security code the
	// person view shows.
	if m.screen == screenPerson && m.person != nil {
		if cmd, ok := m.person.compareKey(); ok {
			return cmd
		}
	}
	if vc == nil {
		m.status, m.statusErr = "this build cannot verify keys", true
		return nil
	}
	var person inbox.PersonID
	switch {
	case m.screen == screenConversation && m.conv != nil:
		person = m.conv.directPerson()
	case m.screen == screenPerson && m.person != nil:
		person = m.person.personID()
	}
	if person == 0 {
		m.verify.show("")
		m.push(screenVerify)
		return loadVerifications(vc)
	}
	m.status = "asking to verify keys…"
	return startVerification(m.env.ctx, vc, person)
}

func (m *rootModel) errStatus(what string, err error) tea.Cmd {
	if err == nil {
		return nil
	}
	m.env.log.Debug().Err(err).Str("what", what).Msg("core read failed")
	m.status, m.statusErr = what+" failed: "+err.Error(), true
	return nil
}

// onChanges re-reads only what the screen shows for the changes that
// concern it.
func (m *rootModel) onChanges(cs []inbox.Change) tea.Cmd {
	var list, reqs, accts, msgs, routes, people, verifs, uploads, links bool
	for _, c := range cs {
		switch c.Kind {
		case inbox.ChangeConversations, inbox.ChangeTyping:
			list = true
			if m.conv != nil && c.Conversation == m.conv.conversation() {
				msgs = msgs || c.Kind == inbox.ChangeTyping
			}
		case inbox.ChangeMessages:
			list, uploads = true, true
			if m.conv != nil && (c.Conversation == m.conv.conversation() || c.Conversation == 0) {
				// A sent message can change the route (the network last used),
				// and a link's state (its notice went out).
				msgs, routes, links = true, true, true
			}
		case inbox.ChangeRequests:
			reqs, list = true, true
		case inbox.ChangeAccounts:
			accts, routes = true, true
		case inbox.ChangePeople:
			people, list, routes = true, true, true
		case inbox.ChangeVerification:
			verifs = true
		case inbox.ChangeBridges:
			links = true
		case inbox.ChangeDrafts:
			// Another screen (or this one) saved it: read the core's the
			// next time the conversation opens here.
			m.env.drafts.forget(c.Conversation)
		}
	}
	var cmds []tea.Cmd
	e := m.env
	// Contacts arrive while the form is open (a roster after login).
	if m.newConv != nil && (people || list) {
		cmds = append(cmds, m.newConv.query(true))
	}
	// The requests count shows in the header on every screen.
	if reqs {
		cmds = append(cmds, m.reqs.refresh())
	}
	if accts {
		cmds = append(cmds, loadAccounts(e.core, e.accounts))
	}
	if uploads {
		cmds = append(cmds, loadUploads(e.core))
	}
	// The status bar calls for the user's answer on every screen.
	if verifs {
		cmds = append(cmds, loadVerifications(e.verify))
	}
	switch m.screen {
	case screenInbox:
		if list {
			cmds = append(cmds, m.list.refresh())
		}
	case screenConversation:
		if msgs {
			cmds = append(cmds, m.conv.refresh())
		}
		if routes {
			cmds = append(cmds, m.conv.loadPlan())
		}
		// A link's state follows its legs' accounts and its notices.
		if links || accts {
			cmds = append(cmds, m.conv.loadLinks())
		}
		if links && m.link != nil && m.link.stage == linkMenu {
			cmds = append(cmds, m.link.loadLegs())
		}
	case screenPerson:
		if people {
			cmds = append(cmds, m.person.refresh())
		}
	}
	return tea.Batch(cmds...)
}

// View draws header, the current screen, and the status bar from cached
// state only.
func (m *rootModel) View() string {
	var b strings.Builder
	b.WriteString(clearFirst(m.header()))
	b.WriteByte('\n')
	var body string
	switch {
	case m.showHelp:
		body = m.help.View()
	case m.newConv != nil:
		body = m.newConv.View(m.width)
	case m.link != nil:
		body = m.link.View(m.width, m.bodyHeight())
	default:
		body = m.current().View()
	}
	b.WriteString(fitHeight(body, m.bodyHeight(), m.width))
	b.WriteByte('\n')
	for _, l := range m.feedback() {
		b.WriteString(clearFirst(l) + "\n")
	}
	b.WriteString(clearFirst(m.statusBar()))
	return b.String()
}

// fitHeight pads or cuts s to exactly h lines, each cut to w cells, so the
// status bar stays on the last row.
func fitHeight(s string, h, w int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = clearFirst(truncateStyled(l, w))
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// clearFirst starts a line whose width terminals dispute with "erase the
// line". An emoji like 🌶️ is two cells to us and one in tmux, so the drawn
// line ends a cell early; Bubble Tea erases the rest only for lines it
// measures as short, and the previous frame's last character would stay.
func clearFirst(line string) string {
	if !strings.ContainsFunc(line, disputedWidth) {
		return line
	}
	return ansi.EraseEntireLine + line
}

// disputedWidth: variation selector 16, zero-width joiner, skin tones and
// regional indicators — where grapheme and per-code-point widths differ.
func disputedWidth(r rune) bool {
	return r == 0xFE0F || r == 0x200D || (r >= 0x1F3FB && r <= 0x1F3FF) || (r >= 0x1F1E6 && r <= 0x1F1FF)
}

func (m *rootModel) header() string {
	st := m.env.st
	tab := func(label string, on bool) string {
		if on {
			return st.tabOn.Render(" " + label + " ")
		}
		return st.tabOff.Render(" " + label + " ")
	}
	n := m.reqs.count()
	reqLabel := "Requests"
	if n > 0 {
		reqLabel += " (" + itoa(int64(n)) + ")"
	}
	s := st.title.Render("Polyglot") + " "
	if m.env.demo {
		s += st.warn.Render("DEMO") + st.dim.Render(" (nothing leaves this machine)") + " "
	}
	s += tab("Inbox", m.screen != screenRequests) + tab(reqLabel, m.screen == screenRequests)
	switch m.screen {
	case screenSearch:
		s += st.dim.Render("  › search")
	case screenPerson:
		s += st.dim.Render("  › person")
	case screenAccounts:
		s += st.dim.Render("  › accounts")
	case screenVerify:
		s += st.dim.Render("  › verify")
	}
	s += st.dim.Render("   " + keyName(m.env.keys.Help) + " help")
	return truncateStyled(s, m.width)
}

// historyProgressText says how far a first-login history fill got, in
// figures fetched so far (how many there are in all nobody knows yet).
func historyProgressText(p inbox.HistoryProgress) string {
	s := "history " + itoa(int64(p.Messages)) + " messages"
	if p.Limit > 0 {
		s += " (up to " + itoa(int64(p.Limit)) + ")"
	}
	s += " · " + itoa(int64(p.Chats)) + " chats…"
	return s
}

// statusBar shows each account's state in its network colour (the latest
// notice has lines of its own: feedback).
func (m *rootModel) statusBar() string {
	st := m.env.st
	var parts []string
	login := false
	locked := ""
	for _, a := range m.accounts {
		state := a.State.String()
		login = login || a.State == AccountLoginNeeded
		if a.State == AccountLocked && locked == "" {
			locked = a.Detail
		}
		part := st.netBadge(a.Network) + " " + inline(a.Account, 24) + " " + stateStyle(st, a).Render(state)
		if a.History != nil {
			part += st.dim.Render(" · " + historyProgressText(*a.History))
		}
		parts = append(parts, part)
	}
	s := strings.Join(parts, st.dim.Render(" │ "))
	if len(m.uploads) > 0 {
		s = st.warn.Render(uploadText(m.uploads)) + st.dim.Render(" │ ") + s
	}
	switch {
	case m.screen == screenAccounts:
		// The states are on screen.
		s = ""
	case len(m.accounts) == 0:
		s = st.dim.Render("no accounts")
	}
	// First, so a narrow terminal cannot cut it off.
	if n := m.verify.notice(); n != "" && m.screen != screenVerify {
		s = st.warn.Render(n) + st.dim.Render(" │ ") + s
	}
	if login && m.screen != screenAccounts {
		s = st.errStyle.Render("login needed — press "+keyName(m.env.keys.Accounts)) + st.dim.Render(" │ ") + s
	}
	// Before everything: no account can connect until it is fixed.
	if locked != "" && m.screen != screenAccounts {
		s = st.errStyle.Render("keystore locked: "+inline(locked, 160)) + st.dim.Render(" │ ") + s
	}
	return truncateStyled(s, m.width)
}
