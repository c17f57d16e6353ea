package whatsapp

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"go.mau.fi/util/dbutil"
)

// plainColumn is a column that an earlier Polyglot (or a fresh whatsmeow
// store) holds in plaintext, and how it is sealed: by the values of ad
// (SQL expressions of the same row), the way the sealed stores seal it.
type plainColumn struct {
	table, col string
	ad         []string
	seal       func(s *sealer, ad []string, v []byte) []byte
}

func masked(purpose string) func(*sealer, []string, []byte) []byte {
	return func(s *sealer, ad []string, v []byte) []byte { return s.mask(purpose, ad[0], v) }
}

func sealedBy(purpose string) func(*sealer, []string, []byte) []byte {
	return func(s *sealer, ad []string, v []byte) []byte { return s.seal(purpose, strings.Join(ad, "\x00"), v) }
}

var plainColumns = []plainColumn{
	{"whatsmeow_device", "noise_key", []string{"jid"}, masked(purposeNoise)},
	{"whatsmeow_device", "identity_key", []string{"jid"}, masked(purposeIdentity)},
	{"whatsmeow_device", "signed_pre_key", []string{"jid"}, masked(purposeSignedPreKey)},
	{"whatsmeow_device", "adv_key", []string{"jid"}, masked(purposeAdv)},
	{"whatsmeow_identity_keys", "identity", []string{"their_id"}, masked(purposeContactID)},
	{"whatsmeow_sessions", "session", []string{"their_id"}, sealedBy(purposeSession)},
	{"whatsmeow_sender_keys", "sender_key", []string{"chat_id", "sender_id"}, sealedBy(purposeSenderKey)},
	{"whatsmeow_app_state_sync_keys", "key_data", []string{"key_id"}, func(s *sealer, ad []string, v []byte) []byte {
		payload := binary.AppendUvarint(nil, uint64(len(ad[0])))
		return s.seal(purposeAppStateKey, "", append(append(payload, ad[0]...), v...))
	}},
	{"whatsmeow_message_secrets", "key", []string{"message_id"}, sealedBy(purposeMsgSecret)},
	{"whatsmeow_privacy_tokens", "token", []string{"''"}, sealedBy(purposePrivacyToken)},
	{"whatsmeow_nct_salt", "salt", []string{"''"}, sealedBy(purposeNCTSalt)},
	{"whatsmeow_event_buffer", "plaintext", []string{"lower(hex(ciphertext_hash))"}, sealedBy(purposeBuffered)},
	{"whatsmeow_retry_buffer", "plaintext", []string{"message_id"}, sealedBy(purposeOutgoing)},
	{"polyglot_compared", "identity", []string{"peer"}, sealedBy(purposeCompared)},
}

// sealPlaintext seals, in one transaction, every secret of a store that
// has no seal yet (an earlier version's, or a new empty file), moves
// whatsmeow's prekeys into polyglot_pre_keys, and records the salt and
// check value. It returns how many values it sealed; if any, the file is
// then rebuilt (VACUUM) so the plaintext does not linger in free pages.
func sealPlaintext(ctx context.Context, db *dbutil.Database, s *sealer, salt []byte) (int, error) {
	n := 0
	err := db.DoTxn(ctx, nil, func(ctx context.Context) error {
		for _, pc := range plainColumns {
			m, err := sealColumn(ctx, db, s, pc)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", pc.table, pc.col, err)
			}
			n += m
		}
		m, err := movePreKeys(ctx, db, s)
		if err != nil {
			return fmt.Errorf("prekeys: %w", err)
		}
		n += m
		_, err = db.Exec(ctx, `INSERT INTO polyglot_seal (id, salt, check_value) VALUES (1, $1, $2)`,
			salt, s.seal(purposeCheck, "", []byte("polyglot whatsapp store")))
		return err
	})
	if err != nil || n == 0 {
		return n, err
	}
	if _, err := db.Exec(ctx, `VACUUM`); err != nil {
		return n, fmt.Errorf("rewriting the file without the plaintext: %w", err)
	}
	return n, nil
}

func sealColumn(ctx context.Context, db *dbutil.Database, s *sealer, pc plainColumn) (int, error) {
	q := fmt.Sprintf(`SELECT rowid, %s, %s FROM %s WHERE %s IS NOT NULL`, pc.col, strings.Join(pc.ad, ", "), pc.table, pc.col)
	rows, err := db.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	type row struct {
		id int64
		v  []byte
		ad []string
	}
	var all []row
	for rows.Next() {
		r := row{ad: make([]string, len(pc.ad))}
		dest := []any{&r.id, &r.v}
		for i := range r.ad {
			dest = append(dest, &r.ad[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	for _, r := range all {
		if _, err := db.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE rowid = $2`, pc.table, pc.col), pc.seal(s, r.ad, r.v), r.id); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

func movePreKeys(ctx context.Context, db *dbutil.Database, s *sealer) (int, error) {
	rows, err := db.Query(ctx, `SELECT jid, key_id, key, uploaded FROM whatsmeow_pre_keys`)
	if err != nil {
		return 0, err
	}
	type preKey struct {
		jid      string
		id       uint32
		key      []byte
		uploaded bool
	}
	var all []preKey
	for rows.Next() {
		var k preKey
		if err := rows.Scan(&k.jid, &k.id, &k.key, &k.uploaded); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, k)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	for _, k := range all {
		if _, err := db.Exec(ctx, `INSERT INTO polyglot_pre_keys (jid, key_id, key, uploaded) VALUES ($1, $2, $3, $4)
			ON CONFLICT (jid, key_id) DO NOTHING`, k.jid, k.id, s.seal(purposePreKey, preKeyAD(k.id), k.key), k.uploaded); err != nil {
			return 0, err
		}
	}
	if _, err := db.Exec(ctx, `DELETE FROM whatsmeow_pre_keys`); err != nil {
		return 0, err
	}
	return len(all), nil
}
