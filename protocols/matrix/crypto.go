package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

// cryptoGlue is the client's CryptoHelper: mautrix encrypts messages to
// encrypted rooms through it. We drive the OlmMachine ourselves instead of
// cryptohelper so undecryptable events surface at once and are retried.
type cryptoGlue struct {
	c    *Connector
	mach *crypto.OlmMachine
}

func (g *cryptoGlue) Init(context.Context) error { return nil }

func (g *cryptoGlue) Encrypt(ctx context.Context, roomID id.RoomID, evtType event.Type, content any) (*event.EncryptedEventContent, error) {
	enc, err := g.mach.EncryptMegolmEvent(ctx, roomID, evtType, content)
	if err == nil {
		return enc, nil
	}
	if !errors.Is(err, crypto.ErrSessionExpired) && !errors.Is(err, crypto.ErrNoGroupSession) && !errors.Is(err, crypto.ErrSessionNotShared) {
		return nil, err
	}
	// New or expired session: share it with every member device, then retry.
	// A membership change seen by the sync loop in between (the invitee of a
	// new DM) discards the fresh session, so try a few times.
	for attempt := 0; ; attempt++ {
		users, err := g.c.cli.StateStore.GetRoomJoinedOrInvitedMembers(ctx, roomID)
		if err != nil {
			return nil, fmt.Errorf("room members: %w", err)
		}
		if err := g.mach.ShareGroupSession(ctx, roomID, users); err != nil {
			return nil, fmt.Errorf("sharing room key: %w", err)
		}
		enc, err := g.mach.EncryptMegolmEvent(ctx, roomID, evtType, content)
		if err == nil || attempt == 2 || !errors.Is(err, crypto.ErrNoGroupSession) {
			return enc, err
		}
	}
}

func (g *cryptoGlue) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	return g.mach.DecryptMegolmEvent(ctx, evt)
}

func (g *cryptoGlue) WaitForSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, timeout time.Duration) bool {
	return g.mach.WaitForSession(ctx, roomID, senderKey, sessionID, timeout)
}

func (g *cryptoGlue) RequestSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, userID id.UserID, deviceID id.DeviceID) {
	if deviceID == "" {
		deviceID = "*"
	}
	_ = g.mach.SendRoomKeyRequest(ctx, roomID, senderKey, sessionID, "", map[id.UserID][]id.DeviceID{
		userID: {deviceID}, g.c.cli.UserID: {"*"},
	})
}

// ensureDeviceKeys uploads our identity and one-time keys the first time and
// checks the server still has the same identity afterwards.
func (c *Connector) ensureDeviceKeys(ctx context.Context) error {
	cli, mach := c.cli, c.mach
	resp, err := cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: map[id.UserID]mautrix.DeviceIDList{cli.UserID: {cli.DeviceID}}})
	if err != nil {
		return fmt.Errorf("matrix: querying own device keys: %w", err)
	}
	own := mach.OwnIdentity()
	dev, ok := resp.DeviceKeys[cli.UserID][cli.DeviceID]
	switch {
	case !ok || len(dev.Keys) == 0:
		if err := mach.ShareKeys(ctx, -1); err != nil {
			return fmt.Errorf("matrix: uploading device keys: %w", err)
		}
	case !mach.GetAccount().Shared:
		return errors.New("matrix: the server has keys for this device that this database did not upload; use a fresh device")
	case dev.Keys.GetEd25519(cli.DeviceID) != own.SigningKey:
		return errors.New("matrix: the server holds a different identity key for this device")
	}
	return nil
}

// setupCrossSigning loads our cross-signing private keys (sealed in our DB),
// or creates and publishes them when the account has none yet. Publishing
// needs the password (user-interactive auth).
func (c *Connector) setupCrossSigning(ctx context.Context) error {
	mach := c.mach
	plain, err := c.st.loadCrossSigning(ctx, c.cfg.PickleKey)
	if err != nil {
		return err
	}
	if plain != nil {
		var seeds crypto.CrossSigningSeeds
		if err := json.Unmarshal(plain, &seeds); err != nil {
			return fmt.Errorf("decoding cross-signing keys: %w", err)
		}
		return mach.ImportCrossSigningKeys(seeds)
	}
	existing, err := mach.GetCrossSigningPublicKeys(ctx, c.cli.UserID)
	if err == nil && existing != nil {
		return errors.New("the account already has cross-signing keys from another device; verify this device from it")
	}
	if c.cfg.Password == "" {
		return errors.New("creating cross-signing keys needs the password")
	}
	keys, err := mach.GenerateCrossSigningKeys()
	if err != nil {
		return err
	}
	localpart, _, _ := c.cli.UserID.Parse()
	err = mach.PublishCrossSigningKeys(ctx, keys, func(ui *mautrix.RespUserInteractive) interface{} {
		return &mautrix.ReqUIAuthLogin{
			BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: ui.Session},
			User:         localpart, Password: c.cfg.Password,
		}
	})
	if err != nil {
		return fmt.Errorf("publishing cross-signing keys: %w", err)
	}
	mach.CrossSigningKeys = keys
	seeds, _ := json.Marshal(mach.ExportCrossSigningKeys())
	if err := c.st.saveCrossSigning(ctx, c.cfg.PickleKey, seeds); err != nil {
		return fmt.Errorf("saving cross-signing keys: %w", err)
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return fmt.Errorf("signing own device: %w", err)
	}
	return mach.SignOwnMasterKey(ctx)
}

// userVerified: the user's master key is signed by our user-signing key, or
// (for clients without cross-signing) every device of theirs was verified.
func (c *Connector) userVerified(ctx context.Context, u id.UserID) bool {
	mach := c.mach
	if ok, err := mach.IsUserTrusted(ctx, u); err == nil && ok {
		return true
	}
	devs, err := mach.CryptoStore.GetDevices(ctx, u)
	if err != nil || len(devs) == 0 {
		return false
	}
	for _, d := range devs {
		// TOFU trust (a device signed by its owner's unverified key) is
		// not verification: only explicit or cross-signed-verified counts.
		if tr, _ := mach.ResolveTrustContext(ctx, d); tr != id.TrustStateVerified && tr != id.TrustStateCrossSignedVerified {
			return false
		}
	}
	return true
}

// refreshTrust recomputes the cached verification state of DM peers, so
// PeerEncryption never touches the network.
func (c *Connector) refreshTrust(ctx context.Context, users ...id.UserID) {
	_, _, st, err := c.client()
	if err != nil {
		return
	}
	if len(users) == 0 {
		dms, _ := st.directRooms(ctx)
		for u := range dms {
			users = append(users, u)
		}
	}
	for _, u := range users {
		v := c.userVerified(ctx, u)
		c.mu.Lock()
		c.trusted[u] = v
		c.mu.Unlock()
	}
}

// PeerEncryption is the class a message to peer would get now: a Matrix
// user (its DM room, or the encrypted DM Send would create) or a room ID.
func (c *Connector) PeerEncryption(peer protocols.Address) protocols.Encryption {
	cli, _, st, err := c.client()
	if err != nil {
		// Not logged in yet: what this run knows of the room is still on
		// the way. Answer the class a DM gets (Send creates them
		// encrypted), never "none": a message queued now keeps this as
		// its floor, so an unencrypted room then refuses it ("not sent
		// weaker") instead of it going out in the clear unasked.
		return protocols.EncE2EE
	}
	ctx := context.Background()
	transport := protocols.EncTransport
	if strings.HasPrefix(cli.HomeserverURL.Scheme, "http") && cli.HomeserverURL.Scheme != "https" {
		transport = protocols.EncNone // plain HTTP (a loopback test server)
	}
	verified := func(u id.UserID) bool {
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.trusted[u]
	}
	if strings.HasPrefix(peer.ID, "!") {
		room := id.RoomID(peer.ID)
		if enc, _ := cli.StateStore.IsEncrypted(ctx, room); !enc {
			return transport
		}
		members, _ := cli.StateStore.GetRoomJoinedOrInvitedMembers(ctx, room)
		for _, m := range members {
			if m != cli.UserID && !verified(m) {
				return protocols.EncE2EE
			}
		}
		return protocols.EncE2EEVerified
	}
	u := id.UserID(peer.ID)
	if room, ok := st.dmRoom(ctx, u); ok {
		if enc, _ := cli.StateStore.IsEncrypted(ctx, room); !enc {
			return transport
		}
	}
	// Existing encrypted DM, or the encrypted DM Send would create.
	if verified(u) {
		return protocols.EncE2EEVerified
	}
	return protocols.EncE2EE
}

// roomEncryption is the class of a message in room from/to its members.
func (c *Connector) roomEncryption(ctx context.Context, room id.RoomID) protocols.Encryption {
	_, _, st, err := c.client()
	if err != nil {
		return protocols.EncNone
	}
	if r, ok := st.room(ctx, room); ok && r.DirectUser != "" {
		return c.PeerEncryption(userAddress(r.DirectUser))
	}
	return c.PeerEncryption(protocols.Address{Network: protocols.Matrix, ID: room.String()})
}

func (c *Connector) backgroundCtx() context.Context {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return c.runCtx
}

func (c *Connector) emitUndecryptable(ctx context.Context, evt *event.Event, why string) {
	msg := c.baseMessage(ctx, evt)
	msg.Undecryptable = true
	msg.Body = ""
	msg.Notice = "🔒 Unable to decrypt this message (" + why + ")"
	msg.Encryption = protocols.EncE2EE
	c.emit(protocols.MessageEvent{Message: msg})
}

// afterSync turns device-list changes into key-change notices and refreshes
// the cached trust of those users.
func (c *Connector) afterSync(ctx context.Context, res *mautrix.RespSync, _ string, before map[id.UserID]map[id.DeviceID]id.Ed25519) {
	c.flushRooms(ctx)
	if len(res.DeviceLists.Changed) == 0 {
		return
	}
	for u, old := range before {
		if len(old) == 0 {
			continue // first time we see this user's devices: nothing changed
		}
		devs, err := c.mach.CryptoStore.GetDevices(ctx, u)
		if err != nil {
			continue
		}
		now := time.Now()
		for did, d := range devs {
			prev, had := old[did]
			kind := protocols.KeyNew
			if had && prev == d.SigningKey {
				continue
			} else if had {
				kind = protocols.KeyChanged
			}
			c.emitKeyChange(ctx, u, did, d.SigningKey.Fingerprint(), kind, now)
		}
		var gone []id.DeviceID
		for did := range old {
			if _, still := devs[did]; !still {
				gone = append(gone, did)
			}
		}
		if len(gone) == 0 {
			continue
		}
		// mautrix drops a device whose signing key changed (and stops
		// encrypting to it) just as if it had been removed; the server's
		// list tells the two apart.
		listed := c.serverDeviceKeys(ctx, u)
		for _, did := range gone {
			if key, ok := listed[did]; ok && key != old[did] {
				c.emitKeyChange(ctx, u, did, key.Fingerprint(), protocols.KeyChanged, now)
			} else {
				c.emitKeyChange(ctx, u, did, "", protocols.KeyRemoved, now)
			}
		}
	}
	c.refreshTrust(ctx, res.DeviceLists.Changed...)
}

// serverDeviceKeys is the signing key of each device the server lists for
// u now (nil when the query fails: the caller then reports removals).
func (c *Connector) serverDeviceKeys(ctx context.Context, u id.UserID) map[id.DeviceID]id.Ed25519 {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := c.cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: map[id.UserID]mautrix.DeviceIDList{u: {}}})
	if err != nil {
		c.log.Warn().Err(err).Msg("querying a contact's device keys")
		return nil
	}
	out := map[id.DeviceID]id.Ed25519{}
	for did, keys := range resp.DeviceKeys[u] {
		if k := keys.Keys.GetEd25519(did); k != "" {
			out[did] = k
		}
	}
	return out
}

func (c *Connector) emitKeyChange(ctx context.Context, u id.UserID, did id.DeviceID, fp string, kind protocols.KeyChangeKind, at time.Time) {
	chat := ""
	if room, ok := c.st.dmRoom(ctx, u); ok {
		chat = room.String()
	}
	c.emit(protocols.KeyChangeEvent{Chat: protocols.ChatID(chat), Contact: userAddress(u), DeviceID: did.String(), Fingerprint: fp, Kind: kind, At: at})
}
