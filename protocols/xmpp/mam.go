package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"sync"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
)

// MAM (XEP-0313) with RSM paging (XEP-0059), written directly: results
// arrive as <message><result queryid=…/></message> before the IQ reply, in
// stream order, so by the time the reply is back every result was collected.

type mamQuery struct {
	XMLName xml.Name `xml:"urn:xmpp:mam:2 query"`
	QueryID string   `xml:"queryid,attr"`
	Form    *mamForm `xml:"jabber:x:data x,omitempty"`
	Set     rsmSet   `xml:"http://jabber.org/protocol/rsm set"`
}

type mamForm struct {
	Type   string     `xml:"type,attr"`
	Fields []mamField `xml:"jabber:x:data field"`
}

type mamField struct {
	Var   string `xml:"var,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:"jabber:x:data value"`
}

type rsmSet struct {
	Max    int     `xml:"http://jabber.org/protocol/rsm max"`
	After  *string `xml:"http://jabber.org/protocol/rsm after,omitempty"`
	Before *string `xml:"http://jabber.org/protocol/rsm before,omitempty"`
}

type mamFin struct {
	XMLName  xml.Name `xml:"urn:xmpp:mam:2 fin"`
	Complete bool     `xml:"complete,attr"`
	First    string   `xml:"http://jabber.org/protocol/rsm set>first"`
	Last     string   `xml:"http://jabber.org/protocol/rsm set>last"`
}

type mamItem struct {
	id  string
	fwd forwarded
}

type mamCollect struct {
	from  jid.JID // archive owner: us or the room
	mu    sync.Mutex
	items []mamItem
	bad   bool
}

func (m *mamCollect) fail() { m.mu.Lock(); m.bad = true; m.mu.Unlock() }

func (c *Connector) mamResult(m *inMessage) {
	c.mu.Lock()
	col := c.queries[m.MAM.QueryID]
	c.mu.Unlock()
	if col == nil || m.MAM.Forwarded.Message == nil {
		return
	}
	// Only the archive we asked may answer.
	if m.From != "" {
		f, err := jid.Parse(m.From)
		if err != nil || !f.Bare().Equal(col.from) {
			c.log.Warn().Str("from", m.From).Msg("forged MAM result dropped")
			return
		}
	} else if !col.from.Equal(c.me) {
		return
	}
	col.mu.Lock()
	col.items = append(col.items, mamItem{id: m.MAM.ID, fwd: m.MAM.Forwarded})
	col.mu.Unlock()
}

// mamPage runs one query against archive (our own if zero) and returns the
// results, oldest first, with the fin.
func (c *Connector) mamPage(ctx context.Context, sess *mxmpp.Session, archive jid.JID, with string, set rsmSet) ([]mamItem, mamFin, error) {
	qid := randomID()
	owner := archive
	if owner.Equal(jid.JID{}) {
		owner = c.me
	}
	col := &mamCollect{from: owner}
	c.mu.Lock()
	c.queries[qid] = col
	c.mu.Unlock()
	defer func() { c.mu.Lock(); delete(c.queries, qid); c.mu.Unlock() }()

	q := mamQuery{QueryID: qid, Set: set}
	if with != "" {
		q.Form = &mamForm{Type: "submit", Fields: []mamField{
			{Var: "FORM_TYPE", Type: "hidden", Value: nsMAM},
			{Var: "with", Value: with},
		}}
	}
	to := ""
	if !owner.Equal(c.me) {
		to = owner.String()
	}
	var fin mamFin
	if err := c.iq(ctx, sess, "set", to, q, &fin); err != nil {
		return nil, fin, fmt.Errorf("xmpp: MAM query: %w", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.bad {
		return nil, fin, protocols.ErrNotConnected
	}
	return col.items, fin, nil
}

func strp(s string) *string { return &s }

// FetchHistory pages backwards through the archive of one chat (our MAM
// filtered by the peer, or the room's own MAM). Messages are returned oldest
// first; edits, reactions and retractions found on the page go out on Events
// as they would live.
func (c *Connector) FetchHistory(ctx context.Context, chat protocols.ChatID, before string, limit int) (protocols.HistoryPage, error) {
	sess, _, err := c.session()
	if err != nil {
		return protocols.HistoryPage{}, err
	}
	cj, err := jid.Parse(string(chat))
	if err != nil {
		return protocols.HistoryPage{}, fmt.Errorf("xmpp: bad chat %q: %w", chat, err)
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	c.mu.Lock()
	_, group := c.rooms[cj.Bare().String()]
	c.mu.Unlock()
	archive, with := jid.JID{}, cj.Bare().String()
	if group {
		archive, with = cj.Bare(), ""
	}
	lctx, cancel := c.linked(ctx)
	defer cancel()
	items, fin, err := c.mamPage(lctx, sess, archive, with, rsmSet{Max: limit, Before: strp(before)})
	if err != nil {
		return protocols.HistoryPage{}, err
	}
	var page protocols.HistoryPage
	for _, it := range items {
		m := it.fwd.Message
		if group && m.Type == "" {
			m.Type = "groupchat"
		}
		// History pages are not subject to the live dedupe: the store
		// dedupes by NetworkID, and a page must be complete.
		evs := c.convertPage(m, it.id, it.fwd.Delay.time())
		for _, ev := range evs {
			if me, ok := ev.(protocols.MessageEvent); ok {
				page.Messages = append(page.Messages, me.Message)
			} else if _, typing := ev.(protocols.TypingEvent); !typing {
				c.emit(ev)
			}
		}
	}
	if !fin.Complete && len(items) > 0 {
		page.Before = fin.First
	}
	return page, nil
}

func (c *Connector) convertPage(m *inMessage, archiveID string, stamp time.Time) []protocols.Event {
	evs := c.convert(m, false, true, archiveID, stamp)
	if len(evs) == 0 || !containsMessage(evs) {
		// convert drops messages already seen live; a history page still
		// needs them, so build it again without the dedupe.
		c.seen.Delete(archiveID)
		if id := m.stanzaID(c.me.String()); id != "" {
			c.seen.Delete(id)
		}
		evs = c.convert(m, false, true, archiveID, stamp)
	}
	return evs
}

func containsMessage(evs []protocols.Event) bool {
	for _, ev := range evs {
		if _, ok := ev.(protocols.MessageEvent); ok {
			return true
		}
	}
	return false
}
