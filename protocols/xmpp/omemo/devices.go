package omemo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// DeviceInfo is one device of a contact (or of ours) as the trust UI lists
// it.
type DeviceInfo struct {
	JID    string
	Device uint32
	// Fingerprint of its identity key ("" until a bundle or a message
	// showed the key).
	Fingerprint string
	FirstSeen   time.Time
	Active      bool // in the account's current device list
	Session     bool // we have a session with it
	Compared    bool // the user compared the fingerprint
	Own         bool // this very device (only in our own JID's list)
}

// Devices lists every device known for jid (active first, then by id).
func (m *Manager) Devices(ctx context.Context, jid string) ([]DeviceInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows, err := m.db.QueryContext(ctx, `SELECT d.device, d.identity, d.first_seen, d.active, d.compared,
		EXISTS (SELECT 1 FROM sessions s WHERE s.jid = d.jid AND s.device = d.device)
		FROM devices d WHERE d.jid = ? ORDER BY d.active DESC, d.device`, jid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceInfo
	for rows.Next() {
		var d DeviceInfo
		var key []byte
		var first int64
		if err := rows.Scan(&d.Device, &key, &first, &d.Active, &d.Compared, &d.Session); err != nil {
			return nil, err
		}
		d.JID, d.FirstSeen = jid, time.Unix(first, 0)
		if key != nil {
			d.Fingerprint = Fingerprint(key)
		}
		d.Own = jid == m.own && d.Device == m.device
		out = append(out, d)
	}
	return out, rows.Err()
}

// SetCompared records that the user compared (or un-compared) a device's
// fingerprint. It fails for a device whose key is not known yet.
func (m *Manager) SetCompared(ctx context.Context, jid string, device uint32, compared bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	res, err := m.db.ExecContext(ctx, `UPDATE devices SET compared = ? WHERE jid = ? AND device = ? AND identity IS NOT NULL`, compared, jid, device)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errors.New("omemo: no device with a known key to mark")
	}
	return nil
}

// TakeNews returns (and forgets) the devices whose identity key was learnt
// or refused since the last call.
func (m *Manager) TakeNews() []DeviceNews {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.news
	m.news = nil
	return n
}

// SetDeviceList records jid's current device list: listed devices become
// active (new ones first seen now), the others inactive. Our own list
// always keeps this device active. It reports whether our own list lacks
// this device (it must be published again).
func (m *Manager) SetDeviceList(ctx context.Context, jid string, ids []uint32) (missingSelf bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET active = 0 WHERE jid = ?`, jid); err != nil {
		return false, err
	}
	missingSelf = jid == m.own
	for _, id := range ids {
		if jid == m.own && id == m.device {
			missingSelf = false
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (jid, device, first_seen, active) VALUES (?, ?, ?, 1)
			ON CONFLICT(jid, device) DO UPDATE SET active = 1`, jid, id, now); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO device_lists (jid, updated) VALUES (?, ?)
		ON CONFLICT(jid) DO UPDATE SET updated = excluded.updated`, jid, now); err != nil {
		return false, err
	}
	return missingSelf, tx.Commit()
}

// activeDevices lists jid's devices in its current list (not this one).
func (m *Manager) activeDevices(ctx context.Context, jid string) ([]uint32, error) {
	ids, err := deviceIDs(ctx, m.db, `SELECT device FROM devices WHERE jid = ? AND active = 1`, jid)
	if jid == m.own {
		ids = slices.DeleteFunc(ids, func(d uint32) bool { return d == m.device })
	}
	return ids, err
}

// deviceIDs runs a query whose one column is a device id.
func deviceIDs(ctx context.Context, db *sql.DB, query string, args ...any) ([]uint32, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var d uint32
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// HasDevices reports, from the store only (no network), whether jid
// publishes at least one OMEMO device we could encrypt to: one in its
// current list whose bundle did not fail recently.
func (m *Manager) HasDevices(jid string) bool {
	m.mu.Lock()
	devs, err := m.activeDevices(context.Background(), jid)
	m.mu.Unlock()
	if err != nil {
		return false
	}
	for _, d := range devs {
		if !m.failedRecently(jid, d) {
			return true
		}
	}
	return false
}

// PublishesDevices reports, from the store, whether jid's current device
// list names any device at all (reachable or not). Such a peer never gets
// a plaintext copy.
func (m *Manager) PublishesDevices(jid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	devs, err := m.activeDevices(context.Background(), jid)
	return err == nil && len(devs) > 0
}

func (m *Manager) failedRecently(jid string, d uint32) bool {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	until, ok := m.badUtil[badKey(jid, d)]
	return ok && time.Now().Before(until)
}

func (m *Manager) markFailed(jid string, d uint32, failed bool) {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	if failed {
		m.badUtil[badKey(jid, d)] = time.Now().Add(10 * time.Minute)
	} else {
		delete(m.badUtil, badKey(jid, d))
	}
}

func badKey(jid string, d uint32) string { return fmt.Sprintf("%s/%d", jid, d) }
