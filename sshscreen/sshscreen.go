// Package sshscreen serves Polyglot's screens over SSH: public-key logins
// from an authorized_keys file only, a PTY required, failed logins slowed
// per source address, a cap on sessions and an idle timeout. Each session
// gets its own renderer, colour profile and size; the program it runs is
// the caller's (the TUI over the running core), so nothing secret crosses
// the connection.
package sshscreen

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/muesli/termenv"
	"github.com/rs/zerolog"
	gossh "golang.org/x/crypto/ssh"
)

// Screen builds the program for one session; release runs after it ends.
// env reads the session's environment (TERM, NO_COLOR, COLORFGBG as the
// client sent them).
type Screen func(ctx context.Context, r *lipgloss.Renderer, env func(string) string, popts []tea.ProgramOption, out ssh.Session) (p *tea.Program, release func())

// Options configure the server.
type Options struct {
	Addr string
	// AuthorizedKeys is the authorized_keys file; it must exist.
	AuthorizedKeys string
	// HostKey is the host key file, made (0600) on first start.
	HostKey     string
	MaxSessions int           // default 8
	IdleTimeout time.Duration // default 30 minutes
	Screen      Screen
	Log         zerolog.Logger
}

// Server is a running SSH server.
type Server struct {
	srv         *ssh.Server
	l           net.Listener
	Fingerprint string // the host key's SHA256 fingerprint
	limiter     *authLimiter
	sessions    atomic.Int32
}

// Listen opens the server for SSH clients on o.Addr.
func Listen(o Options) (*Server, error) {
	o = o.withDefaults()
	keys, err := loadAuthorizedKeys(o.AuthorizedKeys)
	if err != nil {
		return nil, err
	}
	signer, err := HostKey(o.HostKey)
	if err != nil {
		return nil, err
	}
	s := &Server{Fingerprint: gossh.FingerprintSHA256(signer.PublicKey()), limiter: newAuthLimiter(time.Now)}
	srv, err := s.newSSH(o, signer,
		// Public keys only: no password or keyboard-interactive handler
		// is ever set, so the server offers neither.
		wish.WithPublicKeyAuth(func(ctx ssh.Context, key ssh.PublicKey) bool {
			return s.limiter.check(ctx.RemoteAddr(), func() bool { return keys.allows(key) }, o.Log)
		}))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	s.srv, s.l = srv, l
	return s, nil
}

// Local serves screens to `polyglot attach` on connections the core's
// socket hands over: the socket (0600) already says who may connect, so
// there is no SSH login on top.
type Local struct {
	srv *ssh.Server
}

// NewLocal builds the server for local screens (o.Addr and
// o.AuthorizedKeys are not used).
func NewLocal(o Options) (*Local, error) {
	o = o.withDefaults()
	signer, err := HostKey(o.HostKey)
	if err != nil {
		return nil, err
	}
	srv, err := (&Server{}).newSSH(o, signer) // its own session count
	if err != nil {
		return nil, err
	}
	// HandleConn alone does not install the default session handlers
	// (Serve does): install them, as Serve would.
	srv.RequestHandlers = maps.Clone(ssh.DefaultRequestHandlers)
	srv.ChannelHandlers = maps.Clone(ssh.DefaultChannelHandlers)
	srv.SubsystemHandlers = maps.Clone(ssh.DefaultSubsystemHandlers)
	return &Local{srv: srv}, nil
}

// HandleConn serves one attached screen until it ends.
func (l *Local) HandleConn(c net.Conn) { l.srv.HandleConn(c) }

// Close ends every attached screen.
func (l *Local) Close() error { return l.srv.Close() }

func (o Options) withDefaults() Options {
	if o.MaxSessions == 0 {
		o.MaxSessions = 8
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	return o
}

// newSSH is the SSH server both kinds share: the screen, behind the PTY
// requirement and the session cap.
func (s *Server) newSSH(o Options, signer gossh.Signer, opts ...ssh.Option) (*ssh.Server, error) {
	return wish.NewServer(append([]ssh.Option{
		wish.WithAddress(o.Addr),
		func(srv *ssh.Server) error { srv.AddHostKey(signer); return nil },
		wish.WithIdleTimeout(o.IdleTimeout),
		wish.WithMiddleware(
			s.screen(o),
			requirePTY,
			s.capSessions(o.MaxSessions),
			logSessions(o.Log),
		),
	}, opts...)...)
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Serve answers connections until Close.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Close ends every session and stops listening.
func (s *Server) Close() error { return s.srv.Close() }

// requirePTY refuses a session without a terminal (ssh -T, a command).
func requirePTY(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if _, _, ok := sess.Pty(); !ok {
			wish.Fatalln(sess, "polyglot: this server shows Polyglot's screen and needs a terminal: connect with plain `ssh` (or `ssh -t`), not `ssh -T` or a command")
			return
		}
		next(sess)
	}
}

// capSessions refuses sessions beyond max.
func (s *Server) capSessions(max int) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			if n := s.sessions.Add(1); int(n) > max {
				s.sessions.Add(-1)
				wish.Fatalln(sess, fmt.Sprintf("polyglot: %d sessions are open, the most this server allows; close one and try again", max))
				return
			}
			defer s.sessions.Add(-1)
			next(sess)
		}
	}
}

func logSessions(log zerolog.Logger) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			start := time.Now()
			log.Info().Str("user", sess.User()).Str("from", sess.RemoteAddr().String()).Msg("ssh session opened")
			next(sess)
			log.Info().Str("from", sess.RemoteAddr().String()).Dur("for", time.Since(start)).Msg("ssh session closed")
		}
	}
}

// screen runs the session's program, sized and resized with its window.
func (s *Server) screen(o Options) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			pty, windows, _ := sess.Pty()
			env := sessionEnv(append(sess.Environ(), "TERM="+pty.Term))
			r := renderer(sess, env)
			ctx, cancel := context.WithCancel(sess.Context())
			defer cancel()
			p, release := o.Screen(ctx, r, env.get, bm.MakeOptions(sess), sess)
			go func() {
				p.Send(tea.WindowSizeMsg{Width: pty.Window.Width, Height: pty.Window.Height})
				for {
					select {
					case <-ctx.Done():
						p.Quit()
						return
					case w := <-windows:
						p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
					}
				}
			}()
			if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
				o.Log.Warn().Err(err).Msg("ssh screen ended with an error")
			}
			p.Kill()
			release()
			next(sess)
		}
	}
}

// renderer draws for the session with the colour profile its TERM,
// COLORTERM and NO_COLOR say. Unlike wish's MakeRenderer it never asks the
// terminal for its background: an answer arriving late would be read as
// typed keys (the theme sets the background from COLORFGBG instead).
func renderer(sess ssh.Session, env sessionEnv) *lipgloss.Renderer {
	if t := env.get("TERM"); t == "" || t == "dumb" {
		return lipgloss.NewRenderer(sess, termenv.WithProfile(termenv.Ascii))
	}
	return lipgloss.NewRenderer(sess, termenv.WithEnvironment(env), termenv.WithUnsafe(), termenv.WithColorCache(true))
}

// sessionEnv is the session's environment, as termenv reads one.
type sessionEnv []string

func (e sessionEnv) Environ() []string      { return e }
func (e sessionEnv) Getenv(k string) string { return e.get(k) }

// get is the last value of k (the appended TERM wins).
func (e sessionEnv) get(k string) string {
	val := ""
	for _, v := range e {
		if len(v) > len(k) && v[:len(k)] == k && v[len(k)] == '=' {
			val = v[len(k)+1:]
		}
	}
	return val
}

// authorizedKeys are the keys allowed in.
type authorizedKeys []ssh.PublicKey

func loadAuthorizedKeys(path string) (authorizedKeys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no authorized_keys file at %s: put the public keys allowed to log in there (one per line, as ~/.ssh/authorized_keys)", path)
	}
	if err != nil {
		return nil, err
	}
	var keys authorizedKeys
	for line := 1; len(b) > 0; line++ {
		key, _, _, rest, err := gossh.ParseAuthorizedKey(b)
		if err != nil {
			if len(keys) == 0 {
				return nil, fmt.Errorf("%s: no public key could be read: %v", path, err)
			}
			break
		}
		keys = append(keys, key)
		b = rest
	}
	return keys, nil
}

func (k authorizedKeys) allows(key ssh.PublicKey) bool {
	for _, a := range k {
		if ssh.KeysEqual(a, key) {
			return true
		}
	}
	return false
}

// HostKey loads the server's key, making an Ed25519 one (0600) the first
// time. `polyglot attach` reads it to know it reached its own core.
func HostKey(path string) (gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		block, err := gossh.MarshalPrivateKey(priv, "polyglot host key")
		if err != nil {
			return nil, err
		}
		b = pem.EncodeToMemory(block)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return gossh.ParsePrivateKey(b)
}

// authLimiter slows failed logins per source address: after freeAttempts
// failures within window, each answer waits longer (doubling, at most
// maxDelay), so guessing from one address crawls.
type authLimiter struct {
	now  func() time.Time
	mu   sync.Mutex
	fail map[string][]time.Time
}

const (
	freeAttempts = 5
	window       = 10 * time.Minute
	maxDelay     = 10 * time.Second
)

func newAuthLimiter(now func() time.Time) *authLimiter {
	return &authLimiter{now: now, fail: map[string][]time.Time{}}
}

// delay is how long an attempt from host waits before its answer.
func (l *authLimiter) delay(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := l.now().Add(-window)
	recent := l.fail[host][:0]
	for _, t := range l.fail[host] {
		if t.After(cut) {
			recent = append(recent, t)
		}
	}
	l.fail[host] = recent
	n := len(recent) - freeAttempts
	if n < 0 {
		return 0
	}
	return min(100*time.Millisecond<<min(n, 16), maxDelay)
}

func (l *authLimiter) failed(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail[host] = append(l.fail[host], l.now())
}

// check answers an attempt from addr with ok(), after the wait the
// address has earned.
func (l *authLimiter) check(addr net.Addr, ok func() bool, log zerolog.Logger) bool {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if d := l.delay(host); d > 0 {
		log.Warn().Str("from", host).Dur("delay", d).Msg("slowing down failed ssh logins")
		time.Sleep(d)
	}
	if ok() {
		return true
	}
	l.failed(host)
	return false
}
