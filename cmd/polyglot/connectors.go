package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"polyglot/config"

	"github.com/rs/zerolog"

	"polyglot/accounts"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
	"polyglot/protocols/whatsapp"
	"polyglot/protocols/xmpp"
	"polyglot/protocols/xmpp/omemo"
)

// consentOracle tells connectors whether the user accepted an address, so
// that nothing (delivery receipts included) goes back to a stranger.
type consentOracle func(protocols.Address) bool

// registry builds the connector factories for the real networks.
func registry(log zerolog.Logger, accepted consentOracle) accounts.Registry {
	return accounts.Registry{
		protocols.XMPP: func(acc config.Account, secrets accounts.SecretSource) (protocols.Connector, error) {
			pw, err := secrets.Get(accounts.SecretPassword)
			if err != nil {
				return nil, missingSecret(acc, err)
			}
			if err := os.MkdirAll(acc.DataDir, 0o700); err != nil {
				return nil, err
			}
			// The OMEMO store key seals omemo.db (in the account's
			// directory); made on first use and kept in the keystore.
			omemoKey, err := secrets.Get(xmpp.OMEMOKeyKind)
			if errors.Is(err, keystore.ErrNotFound) {
				omemoKey = omemo.NewKey()
				if err := secrets.Set(xmpp.OMEMOKeyKind, omemoKey); err != nil {
					return nil, err
				}
			} else if err != nil {
				return nil, err
			}
			return xmpp.New(xmpp.Config{
				JID:                        acc.Address,
				Password:                   string(pw),
				Account:                    acc.ID,
				Server:                     acc.Server,
				CAFile:                     acc.CAFile,
				InsecureSkipVerifyLoopback: acc.InsecureTLS,
				DataDir:                    acc.DataDir,
				OMEMOKey:                   omemoKey,
				DeliveryReceipts:           accepted,
				HistoryDays:                acc.HistoryDays,
				HistoryMessages:            acc.HistoryMessages,
				Logger:                     log.With().Str("account", acc.ID).Logger(),
			})
		},
		protocols.Matrix: func(acc config.Account, secrets accounts.SecretSource) (protocols.Connector, error) {
			if err := os.MkdirAll(acc.DataDir, 0o700); err != nil {
				return nil, err
			}
			pickle, err := secrets.PickleKey()
			if err != nil {
				return nil, err
			}
			cfg := matrix.Config{
				UserID:     acc.Address,
				Homeserver: acc.Server,
				DBPath:     filepath.Join(acc.DataDir, "matrix.db"),
				PickleKey:  pickle,
				CAFile:     acc.CAFile,
				DeviceName: "Polyglot",
				Logger:     log.With().Str("account", acc.ID).Logger(),
				// contact find: hashed lookups only (protocols/matrix/identity.go)
				IdentityServer: acc.IdentityServer,
				Account:        acc.ID,
			}
			if raw, err := secrets.Get(accounts.SecretToken); err == nil {
				var s matrix.Session
				if json.Unmarshal(raw, &s) == nil && s.AccessToken != "" {
					cfg.AccessToken, cfg.DeviceID = s.AccessToken, s.DeviceID
					if s.Homeserver != "" && cfg.Homeserver == "" {
						cfg.Homeserver = s.Homeserver
					}
				}
			}
			if pw, err := secrets.Get(accounts.SecretPassword); err == nil {
				cfg.Password = string(pw)
			} else if cfg.AccessToken == "" {
				return nil, missingSecret(acc, err)
			}
			c, err := matrix.New(cfg)
			if err != nil {
				return nil, err
			}
			return &matrixSession{Connector: c, secrets: secrets}, nil
		},
		// WhatsApp's secret in the keystore is the store key that seals the
		// linked device's keys and sessions in whatsapp.db (0600, in the
		// account's directory); `account add whatsapp` makes both. An
		// account linked by an earlier Polyglot gets its key here, and its
		// plaintext whatsapp.db is sealed when opened.
		protocols.WhatsApp: func(acc config.Account, secrets accounts.SecretSource) (protocols.Connector, error) {
			if err := os.MkdirAll(acc.DataDir, 0o700); err != nil {
				return nil, err
			}
			db := filepath.Join(acc.DataDir, "whatsapp.db")
			key, err := secrets.Get(whatsapp.StoreKeyKind)
			if errors.Is(err, keystore.ErrNotFound) {
				key = nil
				if _, serr := os.Stat(db); serr == nil {
					key = whatsapp.NewStoreKey()
					if err := secrets.Set(whatsapp.StoreKeyKind, key); err != nil {
						return nil, err
					}
				}
			} else if err != nil {
				return nil, err
			}
			return whatsapp.New(whatsapp.Config{
				Account:  acc.ID,
				DBPath:   db,
				StoreKey: key,
				Accepted: accepted,
				Logger:   log.With().Str("account", acc.ID).Logger(),
			})
		},
	}
}

// missingSecret says what is missing when the keystore has no password:
// an auth problem for the supervisor (no retry loop), but not a refusal.
func missingSecret(acc config.Account, err error) error {
	if errors.Is(err, keystore.ErrNotFound) {
		return &accounts.NoSecretError{Account: acc.ID, Err: err}
	}
	return err
}

// matrixSession keeps the Matrix login (access token, device ID) in the
// keystore as the account's token secret once connected, so the next start resumes the same device and
// its Olm sessions instead of logging in anew.
type matrixSession struct {
	*matrix.Connector
	secrets accounts.SecretSource
}

func (m *matrixSession) Connect(ctx context.Context) error {
	if err := m.Connector.Connect(ctx); err != nil {
		return err
	}
	raw, err := json.Marshal(m.Connector.Session())
	if err != nil {
		return err
	}
	return m.secrets.Set(accounts.SecretToken, raw)
}
