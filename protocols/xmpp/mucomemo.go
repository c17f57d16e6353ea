package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

// OMEMO in group chats, as Conversations, Dino and profanity do it: only in
// a room that is members-only and non-anonymous (every occupant sees every
// real JID), so the members are known and each can be encrypted to. The
// member list is the room's affiliation lists (member, admin, owner: a
// member may ask for them in such a room) plus the real JIDs occupants'
// presence shows. A message goes as one <encrypted> element with a key for
// every device of every member and of our own other devices.

var roomAffiliations = []string{"owner", "admin", "member"}

type mucAdminQuery struct {
	XMLName xml.Name       `xml:"http://jabber.org/protocol/muc#admin query"`
	Items   []mucAdminItem `xml:"http://jabber.org/protocol/muc#admin item"`
}

type mucAdminItem struct {
	Affiliation string `xml:"affiliation,attr,omitempty"`
	JID         string `xml:"jid,attr,omitempty"`
}

// refreshRoom asks the room for its features and, if it can carry OMEMO,
// its member lists, and records both. It runs on a consented path: the
// user joined the room (or is sending to it).
func (c *Connector) refreshRoom(ctx context.Context, r *room) error {
	var info discoInfo
	if err := c.omemoIQ(ctx, "get", r.jid.String(), discoInfo{}, &info); err != nil {
		return err
	}
	capable := hasFeature(info, "muc_membersonly") && hasFeature(info, "muc_nonanonymous")
	members := map[string]bool{}
	if capable {
		for _, aff := range roomAffiliations {
			q := mucAdminQuery{Items: []mucAdminItem{{Affiliation: aff}}}
			var res mucAdminQuery
			if err := c.omemoIQ(ctx, "get", r.jid.String(), q, &res); err != nil {
				return fmt.Errorf("the %s list of %s: %w", aff, r.jid, err)
			}
			for _, it := range res.Items {
				if j, err := jid.Parse(it.JID); err == nil {
					members[j.Bare().String()] = true
				}
			}
		}
	}
	c.mu.Lock()
	r.infoKnown, r.omemo, r.members = true, capable, members
	c.mu.Unlock()
	return nil
}

func hasFeature(info discoInfo, v string) bool {
	for _, f := range info.Features {
		if f.Var == v {
			return true
		}
	}
	return false
}

// roomRecipients lists the members (other than us) a message to r goes
// to: affiliated members and occupants whose real JID the room shows.
func (c *Connector) roomRecipients(r *room) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := map[string]bool{}
	for m := range r.members {
		set[m] = true
	}
	for _, j := range r.occupants {
		set[j] = true
	}
	delete(set, c.me.String())
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// roomEncryption is the class a message to room r gets, from the store:
// E2EE when the room carries OMEMO and every member publishes a device we
// can reach; otherwise transport. Verified is not offered for rooms.
func (c *Connector) roomEncryption(r *room) protocols.Encryption {
	c.mu.Lock()
	capable := r.omemo
	c.mu.Unlock()
	if c.om == nil || !capable {
		return c.transportEnc()
	}
	members := c.roomRecipients(r)
	if len(members) == 0 {
		return c.transportEnc()
	}
	for _, m := range members {
		if !c.om.HasDevices(m) {
			return c.transportEnc()
		}
	}
	return protocols.EncE2EE
}

// learnRoom refreshes r and the device lists of its members after a join,
// then tells the consumer the room's class. Run on its own goroutine.
func (c *Connector) learnRoom(r *room) {
	if c.om == nil {
		return
	}
	c.mu.Lock()
	if r.learning {
		c.mu.Unlock()
		return
	}
	r.learning = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		r.learning = false
		again := r.again
		r.again = false
		c.mu.Unlock()
		if again {
			go c.learnRoom(r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.refreshRoom(ctx, r); err != nil {
		c.log.Info().Err(err).Str("room", r.jid.String()).Msg("room features not learnt")
		return
	}
	c.mu.Lock()
	capable := r.omemo
	c.mu.Unlock()
	if !capable {
		return
	}
	if err := c.fetchDeviceLists(ctx, c.roomRecipients(r)); err != nil {
		c.log.Info().Err(err).Str("room", r.jid.String()).Msg("OMEMO device lists of room members not fetched")
	}
	c.emitNews()
	c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: protocols.ChatID(r.jid.String()), Group: true, Name: r.jid.Localpart()}, Encryption: c.roomEncryption(r)})
}

// learnMember fetches the device list of a member who just appeared in an
// OMEMO room, so the room's class is right before the user sends.
func (c *Connector) learnMember(member string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.om.FetchDeviceList(ctx, c.omemoIQ, member); err != nil {
		c.log.Info().Err(err).Str("member", member).Msg("OMEMO device list of a room member not fetched")
	}
}

// encryptRoom decides how a message to room r travels. It refreshes what
// the room says (features, members) and every member's device list and
// ours, then encrypts to all of them. It returns nil (send as is) only
// when the room cannot carry OMEMO, or a member publishes no device, and
// min allows transport encryption. A room where every member publishes
// OMEMO never gets the text in the clear: a member none of whose devices
// can be reached is ErrEncryptionUnavailable.
func (c *Connector) encryptRoom(ctx context.Context, r *room, body string, min protocols.Encryption) (*omemo.Encrypted, error) {
	refuse := func(format string, a ...any) (*omemo.Encrypted, error) {
		if min >= protocols.EncE2EE {
			return nil, fmt.Errorf("%w: %s", protocols.ErrEncryptionUnavailable, fmt.Sprintf(format, a...))
		}
		return nil, nil
	}
	if c.om == nil {
		return refuse("OMEMO is not set up for this account")
	}
	if r == nil {
		return refuse("not in that room")
	}
	if err := c.refreshRoom(ctx, r); err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			return nil, fmt.Errorf("%w: the room could not be asked about its members: %v", protocols.ErrNotConnected, err)
		}
		return refuse("the room %s does not say who its members are: %v", r.jid, err)
	}
	c.mu.Lock()
	capable := r.omemo
	c.mu.Unlock()
	if !capable {
		return refuse("the room %s is not members-only and non-anonymous, so OMEMO cannot be used in it", r.jid)
	}
	members := c.roomRecipients(r)
	if len(members) == 0 {
		return refuse("nobody else is a member of %s", r.jid)
	}
	if _, err := c.om.FetchDeviceList(ctx, c.omemoIQ, c.me.String()); err != nil {
		c.log.Info().Err(err).Msg("our OMEMO device list not refreshed")
	}
	if err := c.fetchDeviceLists(ctx, members); err != nil {
		return nil, err
	}
	var without []string
	for _, m := range members {
		if !c.om.PublishesDevices(m) {
			without = append(without, m)
		}
	}
	if len(without) > 0 {
		return refuse("%s in %s publishes no OMEMO device", strings.Join(without, ", "), r.jid)
	}
	return c.sealTo(ctx, members, body)
}

// fetchDeviceLists refreshes the device lists of members, a few at a
// time (a send in a big room should not wait for one round trip after the
// other). A refusal (a stanza error) leaves what the store knows; no
// answer at all means the link is down: ErrNotConnected, so the send is
// retried rather than the text sent in the clear on a guess.
func (c *Connector) fetchDeviceLists(ctx context.Context, members []string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		lost error
		sem  = make(chan struct{}, 8)
	)
	for _, m := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := c.om.FetchDeviceList(ctx, c.omemoIQ, m)
			var se stanza.Error
			if err != nil && !errors.As(err, &se) && !errors.Is(err, omemo.ErrTooManyDevices) {
				mu.Lock()
				lost = fmt.Errorf("%w: the OMEMO devices of %s could not be asked: %v", protocols.ErrNotConnected, m, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lost
}

// onRoomOccupant records the real JID an occupant's presence shows (only
// a non-anonymous room shows it to everyone) and their affiliation.
func (c *Connector) onRoomOccupant(r *room, from jid.JID, p *inPresence) {
	if p.MUCUser == nil || p.Type == "error" {
		return
	}
	nick := from.Resourcepart()
	var real, aff string
	for _, it := range p.MUCUser.Items {
		if j, err := jid.Parse(it.JID); err == nil && it.JID != "" {
			real = j.Bare().String()
		}
		if it.Affiliation != "" {
			aff = it.Affiliation
		}
	}
	learn, relearn := false, false
	c.mu.Lock()
	if r.occupants == nil {
		r.occupants = map[string]string{}
	}
	if p.Type == "unavailable" {
		delete(r.occupants, nick)
	} else if real != "" {
		learn = r.omemo && r.occupants[nick] != real && real != c.me.String()
		// A room made members-only and non-anonymous after we joined
		// (its owner configures it, then members come): ask it again.
		if !r.omemo && r.occupants[nick] != real && real != c.me.String() {
			relearn = !r.learning
			r.again = r.learning
		}
		r.occupants[nick] = real
	}
	if real != "" && r.members != nil {
		switch {
		case slices.Contains(roomAffiliations, aff):
			r.members[real] = true
		case aff == "none" || aff == "outcast":
			delete(r.members, real)
		}
	}
	c.mu.Unlock()
	if learn && c.om != nil {
		go c.learnMember(real)
	}
	if relearn && c.om != nil {
		go c.learnRoom(r)
	}
}

// roomSender maps the nick a room message came from to the sender's real
// bare JID. A live message: the occupant's presence. One the room hands
// out itself (byRoom: an archive result, join history) names it in
// <x><item jid/></x>; Prosody appends its own after anything the sender
// put there, so the last one counts. A live message's own <x> is only the
// sender's word and is never used.
func (c *Connector) roomSender(r *room, nick string, m *inMessage, byRoom bool) (jid.JID, bool) {
	var stated string
	if m.MUCUser != nil {
		for _, it := range m.MUCUser.Items {
			if it.JID != "" {
				stated = it.JID
			}
		}
	}
	var present string
	if r != nil {
		c.mu.Lock()
		present = r.occupants[nick]
		c.mu.Unlock()
	}
	pick := present
	if byRoom && stated != "" {
		pick = stated
	}
	if pick == "" {
		return jid.JID{}, false
	}
	j, err := jid.Parse(pick)
	if err != nil {
		return jid.JID{}, false
	}
	return j.Bare(), true
}
