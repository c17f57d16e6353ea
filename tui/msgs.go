package tui

import (
	"context"
	"errors"
	"slices"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// Navigation intents children return to the root.
type (
	openConversationMsg struct{ ID inbox.ConversationID }
	openPersonMsg       struct{ ID inbox.PersonID }
	openRequestsMsg     struct{}
	openSearchMsg       struct{}
	backMsg             struct{}
)

// Results of store reads, each tagged with what was asked so stale answers
// can be dropped.
type (
	conversationsMsg struct {
		Items  []inbox.Conversation
		Append bool // a "load more" page, not a refresh
		Want   int  // how many were asked for
		Seq    int  // a refresh's number (see readSeq)
		Err    error
		// Contacts: with no conversation at all, the people the user can
		// write to (a first login's roster comes before any message).
		Contacts []inbox.ContactMatch
	}
	convHeaderMsg struct {
		Conv inbox.Conversation
		Err  error
	}
	messagesMsg struct {
		Conv  inbox.ConversationID
		Items []inbox.Message
		Older bool // a page before the loaded window, not a refresh
		Want  int
		// Seq orders refreshes: commands run concurrently, so an older read
		// can answer after a newer one and must not undo it.
		Seq int
		Err error
	}
	// planMsg is the route plan for the next message, read number Seq.
	planMsg struct {
		Conv inbox.ConversationID
		Seq  int
		Plan inbox.RoutePlan
		Err  error
	}
	requestsMsg struct {
		Items   []inbox.Request
		Blocked []inbox.Request // what a block hid, for undoing
		Seq     int
		Err     error
	}
	personMsg struct {
		Person      inbox.Person
		Suggestions []inbox.MergeSuggestion
		Others      map[inbox.PersonID]string // names of suggested people (raw)
		Codes       []inbox.SecurityCode      // WhatsApp security codes (SecurityCodeCore)
		Found       []inbox.FoundAddress      // found by a lookup, nobody's yet (ContactFinderCore)
		Err         error
	}
	searchMsg struct {
		Seq  int
		Hits []inbox.SearchHit
		Err  error
	}
	accountsMsg struct {
		States []AccountStatus
		// Names are the user's names per account (OwnNamer), for
		// highlighting mentions.
		Names map[string][]string
	}
	changesMsg    struct{ Changes []inbox.Change }
	feedClosedMsg struct{}

	// sentMsg is the outcome of Send; on a downgrade it carries the error
	// and the request so the prompt can re-send exactly that draft.
	sentMsg struct {
		Conv      inbox.ConversationID
		Req       inbox.SendRequest
		Msg       inbox.Message
		Downgrade *inbox.DowngradeError
		Err       error
	}
	// statusMsg is a one-line notice in the status bar (errors included).
	statusMsg struct {
		Text string
		Err  bool
	}
	// doneMsg reports an intent that needs only a refresh afterwards.
	doneMsg struct {
		What string
		Err  error
	}
)

// Commands: closures that do the I/O and return one message.

func loadConversations(c Core, after inbox.Cursor, limit int, appendPage bool, seq int) tea.Cmd {
	return func() tea.Msg {
		items, err := c.Conversations(after, limit)
		m := conversationsMsg{Items: items, Append: appendPage, Want: limit, Seq: seq, Err: err}
		if fd, ok := c.(ContactFinder); ok && err == nil && len(items) == 0 && !appendPage {
			m.Contacts, _ = fd.FindContacts("", emptyInboxContacts)
		}
		return m
	}
}

func loadConvHeader(c Core, id inbox.ConversationID) tea.Cmd {
	return func() tea.Msg {
		conv, err := c.Conversation(id)
		return convHeaderMsg{Conv: conv, Err: err}
	}
}

// loadOlderPage reads the limit messages before the loaded window.
func loadOlderPage(ctx context.Context, c Core, id inbox.ConversationID, before inbox.Cursor, limit int) tea.Cmd {
	return func() tea.Msg {
		items, err := c.Messages(id, before, limit)
		if err == nil && len(items) < limit {
			// The store ends here: ask the servers for the page before it.
			if h, ok := c.(HistoryLoader); ok {
				if n, lerr := h.LoadOlder(ctx, id, limit); lerr == nil && n > 0 {
					items, err = c.Messages(id, before, limit)
				}
			}
		}
		return messagesMsg{Conv: id, Items: items, Older: true, Want: limit, Err: err}
	}
}

// loadNewest reads the newest limit messages as refresh number seq.
func loadNewest(c Core, id inbox.ConversationID, limit, seq int) tea.Cmd {
	return func() tea.Msg {
		items, err := c.Messages(id, inbox.Cursor{}, limit)
		return messagesMsg{Conv: id, Items: items, Want: limit, Seq: seq, Err: err}
	}
}

func loadPlan(ctx context.Context, c Core, id inbox.ConversationID, opts inbox.RouteOptions, seq int) tea.Cmd {
	return func() tea.Msg {
		p, err := c.PlanRoute(ctx, id, opts)
		return planMsg{Conv: id, Seq: seq, Plan: p, Err: err}
	}
}

func loadRequests(c Core, seq int) tea.Cmd {
	return func() tea.Msg {
		r, err := c.Requests()
		if err != nil {
			return requestsMsg{Seq: seq, Err: err}
		}
		b, err := c.Blocked()
		return requestsMsg{Items: r, Blocked: b, Seq: seq, Err: err}
	}
}

// unblockCmd takes back a block or ignore of person p, named who.
func unblockCmd(c Core, p inbox.PersonID, who string) tea.Cmd {
	return func() tea.Msg {
		n, err := c.Unblock(p)
		switch {
		case err != nil:
			return doneMsg{What: "unblock", Err: err}
		case n == 0:
			return doneMsg{What: who + " is not blocked or ignored"}
		}
		return doneMsg{What: "unblocked " + who + ": their conversation is back"}
	}
}

// readSeq orders a view's refreshes: commands run concurrently, so an
// older read can answer after a newer one, and applying it would undo
// what the newer one showed until the next change.
type readSeq struct{ issued, applied int }

// next numbers a new read.
func (s *readSeq) next() int { s.issued++; return s.issued }

// fresh says whether the answer to read seq is not older than one applied.
func (s *readSeq) fresh(seq int) bool {
	if seq < s.applied {
		return false
	}
	s.applied = seq
	return true
}

func loadPerson(ctx context.Context, c Core, id inbox.PersonID) tea.Cmd {
	return func() tea.Msg {
		p, err := c.Person(id)
		if err != nil {
			return personMsg{Err: err}
		}
		mine, err := suggestionsFor(c, id)
		others := map[inbox.PersonID]string{}
		for _, s := range mine {
			o := s.A
			if o == id {
				o = s.B
			}
			if op, err := c.Person(o); err == nil {
				others[o] = op.Name
			}
		}
		var codes []inbox.SecurityCode
		if sc, ok := c.(SecurityCodeCore); ok && err == nil {
			codes, err = sc.SecurityCodes(ctx, id)
		}
		var found []inbox.FoundAddress
		if fc, ok := c.(ContactFinderCore); ok && err == nil {
			found, err = fc.FoundFor(id)
		}
		return personMsg{Person: p, Suggestions: mine, Others: others, Codes: codes, Found: found, Err: err}
	}
}

func runSearch(c Core, seq int, q string, limit int) tea.Cmd {
	return func() tea.Msg {
		hits, err := c.Search(q, limit)
		return searchMsg{Seq: seq, Hits: hits, Err: err}
	}
}

func loadAccounts(c Core, av AccountsView) tea.Cmd {
	return func() tea.Msg {
		m := accountsMsg{States: accountStatuses(c, av)}
		if on, ok := c.(OwnNamer); ok {
			m.Names = on.OwnNames()
		}
		return m
	}
}

// accountStatuses prefers the supervisor's view (it knows back-off) and
// falls back to what the inbox saw; history fills come from the inbox.
func accountStatuses(c Core, av AccountsView) []AccountStatus {
	var out []AccountStatus
	if av != nil {
		// A copy: the view's own slice is not ours to annotate.
		out = slices.Clone(av.AccountStatuses())
	} else {
		for _, s := range c.AccountStates() {
			out = append(out, AccountStatus{Account: s.Account, Network: s.Network, State: ConnAccountState(s.State), Detail: s.Detail})
		}
	}
	if hr, ok := c.(HistoryReporter); ok {
		fills := hr.HistoryProgress()
		for i := range out {
			if p, ok := fills[out[i].Account]; ok {
				out[i].History = &p
			}
		}
	}
	return out
}

func sendCmd(ctx context.Context, c Core, req inbox.SendRequest) tea.Cmd {
	return func() tea.Msg {
		msg, err := c.Send(ctx, req)
		var de *inbox.DowngradeError
		if errors.As(err, &de) {
			return sentMsg{Conv: req.Conversation, Req: req, Downgrade: de}
		}
		return sentMsg{Conv: req.Conversation, Req: req, Msg: msg, Err: err}
	}
}

// allowAndSend records the visible per-person rule, then sends.
func allowAndSend(ctx context.Context, c Core, p inbox.PersonID, req inbox.SendRequest) tea.Cmd {
	return func() tea.Msg {
		if err := c.SetAllowDowngrade(p, true); err != nil {
			return sentMsg{Conv: req.Conversation, Req: req, Err: err}
		}
		return sendCmd(ctx, c, req)()
	}
}

func markRead(ctx context.Context, c Core, id inbox.ConversationID) tea.Cmd {
	return func() tea.Msg {
		if err := c.MarkRead(ctx, id); err != nil {
			return doneMsg{What: "mark read", Err: err}
		}
		return nil
	}
}

func setTyping(ctx context.Context, c Core, id inbox.ConversationID, on bool) tea.Cmd {
	return func() tea.Msg {
		// Typing is best effort; the core refuses it without consent.
		_ = c.SetTyping(ctx, id, on)
		return nil
	}
}

func retryCmd(ctx context.Context, c Core, id inbox.MessageID) tea.Cmd {
	return func() tea.Msg { return doneMsg{What: "retry", Err: c.Retry(ctx, id)} }
}

func decideCmd(ctx context.Context, c Core, id inbox.ConversationID, d inbox.Decision) tea.Cmd {
	return func() tea.Msg {
		if err := c.Decide(ctx, id, d); err != nil {
			return doneMsg{What: "decide", Err: err}
		}
		return doneMsg{What: decisionDone(d)}
	}
}

func decisionDone(d inbox.Decision) string {
	switch d {
	case inbox.Accept:
		return "accepted"
	case inbox.Block:
		return "blocked"
	case inbox.Ignore:
		return "ignored"
	}
	return "decided"
}

func setPreferredCmd(c Core, p inbox.PersonID, n protocols.Network) tea.Cmd {
	return func() tea.Msg { return doneMsg{What: "preferred network", Err: c.SetPreferred(p, n)} }
}

func setDowngradeCmd(c Core, p inbox.PersonID, allow bool) tea.Cmd {
	return func() tea.Msg { return doneMsg{What: "downgrade rule", Err: c.SetAllowDowngrade(p, allow)} }
}

func mergeCmd(c Core, keep, into inbox.PersonID) tea.Cmd {
	return func() tea.Msg { return doneMsg{What: "merged", Err: c.Merge(keep, into)} }
}

// waitChange blocks on the core's change feed and returns what arrived,
// coalescing a burst so one redraw covers many events. (Not inlined, so its
// closure has one identity the test harness can recognise.)
//
//go:noinline
func waitChange(ch <-chan inbox.Change) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		first, ok := <-ch
		if !ok {
			return feedClosedMsg{}
		}
		out := []inbox.Change{first}
		for len(out) < 256 {
			select {
			case c, ok := <-ch:
				if !ok {
					return changesMsg{Changes: out}
				}
				out = append(out, c)
			default:
				return changesMsg{Changes: out}
			}
		}
		return changesMsg{Changes: out}
	}
}

func cmdOf(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }
