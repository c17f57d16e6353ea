// Package remote is the local socket through which one Polyglot core (the
// process that owns the accounts of a data dir) serves the other commands
// a user runs beside it, so no second process ever connects the same
// accounts.
//
// One owner: the core holds an exclusive lock on <data dir>/core.lock for
// its whole life and listens on $XDG_RUNTIME_DIR/polyglot/core.sock (0600,
// in a 0700 directory; <data dir>/core.sock where there is no runtime
// dir). A crash leaves the socket file behind; whoever takes the lock next
// removes it, so a stale socket is never fatal.
//
// The wire: newline-delimited JSON frames. The client opens with Hello
// (its protocol version); the core answers Welcome, or Refused with a
// sentence for the user when the versions differ, and closes. Then the
// client sends requests, each with an ID its answers carry. Version bumps
// whenever a frame changes meaning.
//
// A Run may carry secrets the client gathered for the command (the
// password of an account `account add` adds in the core). That exposes
// nothing new: the socket is 0600 in a 0700 directory, so only the core's
// own user (and root) can connect — the same user who typed the password
// or owns its file, and whose keystore the core writes it to. A Unix
// socket crosses no network, and neither end logs a frame's contents.
package remote
