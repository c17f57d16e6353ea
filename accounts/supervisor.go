package accounts

import (
	"context"
	"errors"
	"polyglot/config"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"polyglot/keystore"
	"polyglot/protocols"
)

// State is an account's supervisor state.
type State int

const (
	StateConnecting State = iota + 1
	StateOnline
	StateBackingOff // waiting until Status.NextRetry
	StateAuthFailed // no retries until Relogin
	StateDisabled   // enabled = false, or no connector in this build
	StateStopped
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOnline:
		return "online"
	case StateBackingOff:
		return "retrying"
	case StateAuthFailed:
		return "login needed"
	case StateDisabled:
		return "disabled"
	case StateStopped:
		return "stopped"
	}
	return "unknown"
}

// Status is one account's state for status bars and the accounts screen.
type Status struct {
	Account   string
	Network   protocols.Network
	Address   string
	State     State
	Detail    string    // why (last error, human text); empty when fine
	NextRetry time.Time // when BackingOff
	Attempt   int       // consecutive failed attempts
	Since     time.Time // when State was entered
	// NoSecret: AuthFailed because the keystore holds no password or
	// token, not because a server refused one.
	NoSecret bool
}

// Sink receives every event of every account (the inbox's Ingest).
type Sink func(account string, ev protocols.Event)

// Attacher is told when a connector is usable for sending and when it is
// not any more; *inbox.Inbox implements it.
type Attacher interface {
	Attach(account string, c protocols.Connector)
	Detach(account string)
}

// Factory builds a connector for an account; it must not connect yet.
type Factory func(acc config.Account, secrets SecretSource) (protocols.Connector, error)

// Registry maps networks to factories; a missing network is reported as
// unavailable, not as an error at start.
type Registry map[protocols.Network]Factory

// supervisor keeps one account connected.
type supervisor struct {
	acc            config.Account
	factory        Factory
	secrets        SecretSource
	sink           Sink
	attach         Attacher
	clock          Clock
	backoff        Backoff
	connectTimeout time.Duration
	log            zerolog.Logger
	onStatus       func(Status)

	kick   chan struct{} // relogin: reconnect now, even when online
	wake   chan struct{} // ReconnectNow: end a back-off wait early
	cancel context.CancelFunc
	done   chan struct{}

	sinkMu sync.Mutex
	mu     sync.Mutex
	status Status
}

type outcomeKind int

const (
	outStopped outcomeKind = iota
	outFailed              // connect failed or the link dropped: back off
	outAuth                // credentials refused: wait for Relogin
	outKicked              // Relogin while connected: reconnect at once
)

type outcome struct {
	kind outcomeKind
	err  error
}

func (s *supervisor) start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
}

// stop cancels and waits until every goroutine of the account is gone.
func (s *supervisor) stop() {
	s.cancel()
	<-s.done
}

// reconnect asks for a fresh attempt now (after Relogin stored a secret).
func (s *supervisor) reconnect() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// wakeUp ends a back-off wait now, keeping the attempt count (the next
// failure still waits the grown delay). It reports whether the account
// was waiting; an online or connecting one is left alone.
func (s *supervisor) wakeUp() bool {
	if s.current().State != StateBackingOff {
		return false
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (s *supervisor) current() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *supervisor) set(state State, detail string, next time.Time, attempt int) {
	s.setStatus(state, detail, next, attempt, false)
}

func (s *supervisor) setStatus(state State, detail string, next time.Time, attempt int, noSecret bool) {
	s.mu.Lock()
	st := s.status
	if st.State != state {
		st.Since = s.clock.Now()
	}
	st.State, st.Detail, st.NextRetry, st.Attempt, st.NoSecret = state, detail, next, attempt, noSecret
	s.status = st
	s.mu.Unlock()
	if s.onStatus != nil {
		s.onStatus(st)
	}
}

func (s *supervisor) emit(ev protocols.Event) {
	if s.sink == nil {
		return
	}
	s.sinkMu.Lock()
	defer s.sinkMu.Unlock()
	s.sink(s.acc.ID, ev)
}

func (s *supervisor) run(ctx context.Context) {
	defer s.set(StateStopped, "", time.Time{}, 0)
	attempt := 0
	for ctx.Err() == nil {
		s.set(StateConnecting, "", time.Time{}, attempt)
		s.emit(protocols.ConnectionEvent{State: protocols.ConnConnecting})
		out, onlineFor := s.connectOnce(ctx)
		if onlineFor >= s.backoff.Healthy {
			attempt = 0
		}
		switch out.kind {
		case outStopped:
			s.emit(protocols.ConnectionEvent{State: protocols.ConnOffline, Detail: "stopped"})
			return
		case outKicked:
			attempt = 0
			continue
		case outAuth:
			detail := describe(ReasonAuth, out.err)
			s.log.Warn().Str("account", s.acc.ID).Err(out.err).Msg("login refused; waiting for relogin")
			s.setStatus(StateAuthFailed, detail, time.Time{}, attempt, errors.Is(out.err, keystore.ErrNotFound))
			s.emit(protocols.ConnectionEvent{State: protocols.ConnAuthFailed, Err: out.err, Detail: detail})
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
				attempt = 0
				continue
			}
		case outFailed:
			delay := s.backoff.Delay(attempt)
			attempt++
			next := s.clock.Now().Add(delay)
			detail := describe(Classify(out.err), out.err)
			s.log.Info().Str("account", s.acc.ID).Err(out.err).Dur("retry_in", delay).Msg("connection down")
			// A wake from before this wait (sent while connecting) is stale.
			select {
			case <-s.wake:
			default:
			}
			s.set(StateBackingOff, detail, next, attempt)
			s.emit(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: out.err, Detail: detail})
			select {
			case <-ctx.Done():
				return
			case <-s.clock.After(delay):
			case <-s.kick:
				attempt = 0
			case <-s.wake:
				s.log.Info().Str("account", s.acc.ID).Msg("reconnecting now (asked)")
			}
		}
	}
}

// connectOnce builds a connector, connects, forwards its events until the
// link ends, and cleans up. onlineFor is how long it stayed online.
func (s *supervisor) connectOnce(ctx context.Context) (out outcome, onlineFor time.Duration) {
	conn, err := s.factory(s.acc, s.secrets)
	if err != nil {
		if Classify(err) == ReasonAuth {
			return outcome{outAuth, err}, 0
		}
		return outcome{outFailed, err}, 0
	}
	// Read events before Connect: a connector may report while connecting.
	linkDone := make(chan struct{})
	ended := make(chan outcome, 1)
	// attachedNow: the inbox has the connector. Until then a connector's
	// own "online" (some report it from inside Connect) is not the
	// account's: a send planned on it would miss the connector's route.
	var attachedNow atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.forward(conn.Events(), linkDone, ended, &attachedNow)
	}()
	attached := false
	cleanup := func() {
		if attached && s.attach != nil {
			s.attach.Detach(s.acc.ID)
		}
		close(linkDone)
		if err := conn.Close(); err != nil {
			s.log.Debug().Str("account", s.acc.ID).Err(err).Msg("close")
		}
		wg.Wait()
	}

	cctx, cancel := context.WithTimeout(ctx, s.connectTimeout)
	err = conn.Connect(cctx)
	cancel()
	if err != nil {
		cleanup()
		switch {
		case ctx.Err() != nil:
			return outcome{outStopped, nil}, 0
		case errors.Is(err, protocols.ErrAuthFailed):
			return outcome{outAuth, err}, 0
		}
		return outcome{outFailed, err}, 0
	}
	since := s.clock.Now()
	if s.attach != nil {
		s.attach.Attach(s.acc.ID, conn)
		attached = true
	}
	attachedNow.Store(true)
	s.set(StateOnline, "", time.Time{}, 0)
	s.emit(protocols.ConnectionEvent{State: protocols.ConnOnline})
	select {
	case <-ctx.Done():
		out = outcome{outStopped, nil}
	case out = <-ended:
	case <-s.kick:
		out = outcome{outKicked, nil}
	}
	onlineFor = s.clock.Now().Sub(since)
	cleanup()
	return out, onlineFor
}

// forward passes every connector event to the sink and reports the end of
// the link (channel closed, ConnOffline, ConnAuthFailed) once.
func (s *supervisor) forward(events <-chan protocols.Event, linkDone <-chan struct{}, ended chan<- outcome, attached *atomic.Bool) {
	for {
		select {
		case <-linkDone:
			return
		case ev, ok := <-events:
			if !ok {
				ended <- outcome{outFailed, errors.New("connection closed")}
				return
			}
			s.emit(ev)
			ce, isConn := ev.(protocols.ConnectionEvent)
			if !isConn {
				continue
			}
			switch ce.State {
			case protocols.ConnOffline:
				err := ce.Err
				if err == nil {
					err = errors.New(nonEmpty(ce.Detail, "connection lost"))
				}
				ended <- outcome{outFailed, err}
				return
			case protocols.ConnAuthFailed:
				err := ce.Err
				if err == nil || !errors.Is(err, protocols.ErrAuthFailed) {
					err = errors.Join(protocols.ErrAuthFailed, err)
				}
				ended <- outcome{outAuth, err}
				return
			case protocols.ConnConnecting:
				// The connector is re-establishing on its own (e.g. a sync retry).
				s.set(StateConnecting, ce.Detail, time.Time{}, 0)
			case protocols.ConnOnline:
				if attached.Load() { // before that, run sets it once attached
					s.set(StateOnline, "", time.Time{}, 0)
				}
			}
		}
	}
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
