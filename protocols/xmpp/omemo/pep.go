package omemo

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"

	"mellium.im/xmpp/stanza"
)

// IQ sends an <iq/> of type typ ("get"/"set") to `to` ("" for our own
// account) with payload and decodes the reply's payload into reply (may
// be nil). The XMPP connector provides it.
type IQ func(ctx context.Context, typ, to string, payload, reply any) error

const (
	nsPubSub = "http://jabber.org/protocol/pubsub"
	nsForm   = "jabber:x:data"
)

type pubsubGet struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Items   struct {
		Node     string `xml:"node,attr"`
		MaxItems int    `xml:"max_items,attr,omitempty"`
	} `xml:"items"`
}

// pubsubItems is a pubsub <items/> reply or an #event push.
type pubsubItems struct {
	Node  string `xml:"node,attr"`
	Items []struct {
		ID     string      `xml:"id,attr"`
		List   *DeviceList `xml:"eu.siacs.conversations.axolotl list"`
		Bundle *Bundle     `xml:"eu.siacs.conversations.axolotl bundle"`
	} `xml:"item"`
}

type pubsubResult struct {
	XMLName xml.Name    `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Items   pubsubItems `xml:"items"`
}

// Event is the <event xmlns='http://jabber.org/protocol/pubsub#event'/> of a
// PEP push (a message of type headline), as the connector decodes it.
type Event struct {
	XMLName xml.Name    `xml:"http://jabber.org/protocol/pubsub#event event"`
	Items   pubsubItems `xml:"items"`
}

// DeviceList returns the list an event carries, or nil if it is about
// something else.
func (e *Event) DeviceList() (*DeviceList, bool) {
	if e == nil || e.Items.Node != NodeDeviceList {
		return nil, false
	}
	return pickList(e.Items), true
}

func pickList(it pubsubItems) *DeviceList {
	var l *DeviceList
	for _, i := range it.Items {
		if i.List != nil && (l == nil || i.ID == "current") {
			l = i.List
		}
	}
	if l == nil {
		l = &DeviceList{}
	}
	return l
}

type publish struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Publish struct {
		Node string `xml:"node,attr"`
		Item struct {
			ID      string `xml:"id,attr"`
			Payload any
		} `xml:"item"`
	} `xml:"publish"`
	Options struct {
		X struct {
			XMLName xml.Name `xml:"jabber:x:data x"`
			Type    string   `xml:"type,attr"`
			Fields  []field  `xml:"field"`
		}
	} `xml:"publish-options"`
}

type field struct {
	Var   string `xml:"var,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:"value"`
}

// newPublish publishes payload as item "current" of node, open to anyone:
// other users must be able to fetch our device list and bundles (Prosody
// 0.12 honours the access model given in publish-options).
func newPublish(node string, payload any) publish {
	var p publish
	p.Publish.Node = node
	p.Publish.Item.ID = "current"
	p.Publish.Item.Payload = payload
	p.Options.X.Type = "submit"
	p.Options.X.Fields = []field{
		{Var: "FORM_TYPE", Type: "hidden", Value: nsPubSub + "#publish-options"},
		{Var: "pubsub#access_model", Value: "open"},
	}
	return p
}

type configure struct {
	XMLName   xml.Name `xml:"http://jabber.org/protocol/pubsub#owner pubsub"`
	Configure struct {
		Node string `xml:"node,attr"`
		X    struct {
			XMLName xml.Name `xml:"jabber:x:data x"`
			Type    string   `xml:"type,attr"`
			Fields  []field  `xml:"field"`
		}
	} `xml:"configure"`
}

// publishOpen publishes payload on node with access_model=open. A node
// made earlier with another access model (by a client that published
// without publish-options) refuses that (precondition-not-met): it is
// reconfigured to open, as Conversations does, and the publish repeated.
func publishOpen(ctx context.Context, iq IQ, node string, payload any) error {
	err := iq(ctx, "set", "", newPublish(node, payload), nil)
	var se stanza.Error
	// XEP-0060 §7.1.5: <conflict/> with pubsub#errors <precondition-not-met/>.
	if !errors.As(err, &se) || (se.Condition != stanza.Conflict && se.Condition != "precondition-not-met") {
		return err
	}
	var c configure
	c.Configure.Node = node
	c.Configure.X.Type = "submit"
	c.Configure.X.Fields = []field{
		{Var: "FORM_TYPE", Type: "hidden", Value: nsPubSub + "#node_config"},
		{Var: "pubsub#access_model", Value: "open"},
	}
	if cerr := iq(ctx, "set", "", c, nil); cerr != nil {
		return fmt.Errorf("%w (and making the node open failed: %v)", err, cerr)
	}
	return iq(ctx, "set", "", newPublish(node, payload), nil)
}

// notFound: the node does not exist (the account publishes no OMEMO).
func notFound(err error) bool {
	var se stanza.Error
	return errors.As(err, &se) && se.Condition == stanza.ItemNotFound
}

func (m *Manager) fetch(ctx context.Context, iq IQ, jid, node string) (pubsubItems, error) {
	var q pubsubGet
	q.Items.Node = node
	var r pubsubResult
	to := jid
	if jid == m.own {
		to = ""
	}
	if err := iq(ctx, "get", to, q, &r); err != nil {
		return pubsubItems{}, err
	}
	return r.Items, nil
}

// FetchDeviceList asks jid's PEP for its device list and records it. An
// account without the node has no devices. A list over MaxDevices is
// refused (ErrTooManyDevices) and the one known before is kept.
func (m *Manager) FetchDeviceList(ctx context.Context, iq IQ, jid string) ([]uint32, error) {
	items, err := m.fetch(ctx, iq, jid, NodeDeviceList)
	if err != nil && !notFound(err) {
		return nil, fmt.Errorf("omemo: device list of %s: %w", jid, err)
	}
	ids, err := pickList(items).IDs()
	if err != nil {
		m.log.Warn().Err(err).Str("jid", jid).Msg("OMEMO device list refused")
		return nil, err
	}
	if _, err := m.SetDeviceList(ctx, jid, ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// OnDeviceList records a pushed device list of jid. It reports whether our
// own list lost this device (the caller publishes it again).
func (m *Manager) OnDeviceList(ctx context.Context, jid string, l *DeviceList) (missingSelf bool, err error) {
	ids, err := l.IDs()
	if err != nil {
		m.log.Warn().Err(err).Str("jid", jid).Msg("OMEMO device list refused")
		return false, err
	}
	return m.SetDeviceList(ctx, jid, ids)
}

// FetchBundle fetches and parses device d's bundle from jid's PEP.
func (m *Manager) FetchBundle(ctx context.Context, iq IQ, jid string, d uint32) (*ParsedBundle, error) {
	items, err := m.fetch(ctx, iq, jid, fmt.Sprintf("%s%d", NodeBundles, d))
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	for _, it := range items.Items {
		if it.Bundle != nil {
			return it.Bundle.Parse()
		}
	}
	return nil, errors.New("bundle: none published")
}

// Publish makes this device reachable: our id is added to our device list
// (keeping every other device of ours that is there) and our bundle
// published, both open to anyone.
func (m *Manager) Publish(ctx context.Context, iq IQ) error {
	ids, err := m.FetchDeviceList(ctx, iq, m.own)
	if errors.Is(err, ErrTooManyDevices) {
		ids, err = nil, nil // our own list is damaged: start it anew
	}
	if err != nil {
		return err
	}
	if err := m.PublishBundle(ctx, iq); err != nil {
		return err
	}
	if slices.Contains(ids, m.device) {
		return nil
	}
	ids = append(ids, m.device)
	if err := publishOpen(ctx, iq, NodeDeviceList, NewDeviceList(ids)); err != nil {
		return fmt.Errorf("omemo: publishing our device list: %w", err)
	}
	_, err = m.SetDeviceList(ctx, m.own, ids)
	return err
}

// PublishBundle publishes our bundle (identity key, signed prekey, the
// prekey pool).
func (m *Manager) PublishBundle(ctx context.Context, iq IQ) error {
	b, err := m.bundle(ctx)
	if err != nil {
		return err
	}
	if err := publishOpen(ctx, iq, fmt.Sprintf("%s%d", NodeBundles, m.device), b); err != nil {
		return fmt.Errorf("omemo: publishing our bundle: %w", err)
	}
	m.mu.Lock()
	m.republish = false
	m.mu.Unlock()
	return nil
}

// NeedsRepublish: a prekey was consumed and the pool refilled since the
// bundle was last published.
func (m *Manager) NeedsRepublish() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.republish
}

func (m *Manager) bundle(ctx context.Context) (*Bundle, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	spk, err := m.store().LoadSignedPreKey(ctx, signedPreKey)
	if err != nil || spk == nil {
		return nil, fmt.Errorf("omemo: signed prekey missing: %v", err)
	}
	sig := spk.Signature()
	b := &Bundle{
		SignedPreKey:    SignedPreKey{ID: fmt.Sprint(spk.ID()), Key: b64(spk.KeyPair().PublicKey().Serialize())},
		SignedSignature: b64(sig[:]),
		IdentityKey:     b64(m.ident.PublicKey().Serialize()),
	}
	rows, err := m.db.QueryContext(ctx, `SELECT id FROM prekeys ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var ids []uint32
	for rows.Next() {
		var id uint32
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		pk, err := m.store().LoadPreKey(ctx, id)
		if err != nil || pk == nil {
			continue
		}
		b.PreKeys = append(b.PreKeys, PreKey{ID: fmt.Sprint(id), Key: b64(pk.KeyPair().PublicKey().Serialize())})
	}
	return b, nil
}
