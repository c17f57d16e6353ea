// Package accounts owns the user's accounts (listed in config.toml), one
// supervisor per account that connects, forwards events and reconnects
// with capped, jittered backoff, and the add/remove/relogin flows that keep
// secrets in the keystore. Connectors are built by injected factories, so
// this package never imports a protocol implementation.
package accounts
