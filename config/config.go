package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/rs/zerolog"

	"polyglot/keystore"
	"polyglot/protocols"
)

// Reachability is who may start a conversation with an account.
type Reachability string

const (
	ReachEveryone  Reachability = "everyone"   // strangers land in Requests
	ReachContacts  Reachability = "contacts"   // only roster/contacts; others dropped quietly
	ReachOwnServer Reachability = "own-server" // nobody from outside the account's own server
)

// Keystore choices in the config (same words as keystore.Backend*).
var keystoreChoices = []string{"auto", "keyring", "file"}

// Config is config.toml as the program uses it.
type Config struct {
	Theme         string
	Keystore      string            // "auto" (default), "keyring" or "file"
	Keys          map[string]string // action → key, overriding the built-in bindings
	Notifications Notifications
	Images        Images
	Accounts      []Account
}

// Images says how pictures in conversations are drawn.
type Images struct {
	// Protocol is "auto" (default: kitty graphics in kitty, sixel in
	// terminals known to draw it, half-blocks elsewhere), "kitty",
	// "sixel", "halfblocks" or "off".
	Protocol string
}

// Image protocol choices in the config.
var imageChoices = []string{"auto", "kitty", "sixel", "halfblocks", "off"}

// Notifications controls desktop/terminal notification behaviour.
type Notifications struct {
	Enabled bool // master switch; default true
	Bell    bool // ring the terminal bell; default false
	Title   bool // unread count in the terminal title; default true
	// Desktop is "off" (default), "osc9" or "osc777": a desktop
	// notification sent through the terminal (works over SSH).
	Desktop string
	// Preview puts the message text in desktop notifications; default
	// false (privacy over the shoulder).
	Preview bool
}

// Desktop notification choices in the config.
var desktopChoices = []string{"off", "osc9", "osc777"}

// Account is one of the user's own accounts.
type Account struct {
	ID           string // unique; "network:address" unless set
	Network      protocols.Network
	Address      string // @me:example.org, me@example.org, +4915123456789
	Server       string // override: host:port (XMPP) or URL (Matrix)
	CAFile       string // extra CA bundle for the server's certificate (absolute after Load)
	InsecureTLS  bool   // skip certificate checks: loopback servers in tests only
	DisplayName  string
	Enabled      bool // default true
	Reachability Reachability
	// HistoryDays and HistoryMessages bound what a first login fetches
	// from the server's history (0: the connector's default, 30 days and
	// 2 000 messages); older messages load as the user scrolls.
	HistoryDays, HistoryMessages int
	// IdentityServer (Matrix) is the identity server `contact find` asks
	// (hashed lookups only); empty: the homeserver's .well-known.
	IdentityServer string
	// DataDir is where the connector keeps its own state; filled in by the
	// Manager (Paths.AccountDir), never written to the config file.
	DataDir string
}

// DefaultID is the ID an account gets when config.toml names none.
func DefaultID(n protocols.Network, address string) string {
	return string(n) + ":" + strings.TrimSpace(address)
}

// Label is a short human name for status lines.
func (a Account) Label() string {
	if a.DisplayName != "" {
		return a.DisplayName + " (" + a.Address + ")"
	}
	return a.Address
}

// file* mirror the TOML layout; pointers tell "absent" from "false".
type fileConfig struct {
	Theme         string            `toml:"theme,omitempty"`
	Keystore      string            `toml:"keystore,omitempty"`
	Keys          map[string]string `toml:"keys,omitempty"`
	Notifications *fileNotif        `toml:"notifications,omitempty"`
	Images        *fileImages       `toml:"images,omitempty"`
	Accounts      []fileAccount     `toml:"account,omitempty"`
}

type fileNotif struct {
	Enabled *bool  `toml:"enabled,omitempty"`
	Bell    *bool  `toml:"bell,omitempty"`
	Title   *bool  `toml:"title,omitempty"`
	Desktop string `toml:"desktop,omitempty"`
	Preview *bool  `toml:"preview,omitempty"`
}

type fileImages struct {
	Protocol string `toml:"protocol,omitempty"`
}

type fileAccount struct {
	ID           string `toml:"id,omitempty"`
	Network      string `toml:"network"`
	Address      string `toml:"address"`
	Server       string `toml:"server,omitempty"`
	CAFile       string `toml:"ca_file,omitempty"`
	InsecureTLS  bool   `toml:"insecure_tls,omitempty"`
	DisplayName  string `toml:"display_name,omitempty"`
	Enabled      *bool  `toml:"enabled,omitempty"`
	Reachability string `toml:"reachability,omitempty"`
	HistoryDays  int    `toml:"history_days,omitzero"`
	HistoryMsgs  int    `toml:"history_messages,omitzero"`
	IdentitySrv  string `toml:"identity_server,omitempty"`
}

var knownKeys = map[string][]string{
	"":              {"theme", "keystore", "keys", "notifications", "images", "account"},
	"notifications": {"enabled", "bell", "title", "desktop", "preview"},
	"images":        {"protocol"},
	"account":       {"id", "network", "address", "server", "ca_file", "insecure_tls", "display_name", "enabled", "reachability", "history_days", "history_messages", "identity_server"},
}

// ConfigError is one problem in config.toml, with where and how to fix it.
type ConfigError struct {
	File    string
	Line    int // 1-based; 0 when unknown
	Column  int
	Key     string // e.g. "account[2].network"
	Problem string
	Hint    string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Problem)
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// Default is the configuration used when no file exists.
func Default() *Config {
	return &Config{Keystore: "auto", Notifications: Notifications{Enabled: true, Title: true, Desktop: "off"},
		Images: Images{Protocol: "auto"}, Keys: map[string]string{}}
}

// Load reads config.toml. A missing file gives Default(). Every problem is
// a *ConfigError (several are joined) naming file, line, column and a fix.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes and validates config text; name is used in errors and to
// resolve relative ca_file paths.
func Parse(name string, src []byte) (*Config, error) {
	var fc fileConfig
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&fc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: name, Line: pe.Position.Line, Column: pe.Position.Col,
				Key: pe.LastKey, Problem: pe.Message, Hint: parseHint(pe)}
		}
		// Type mismatches come as plain errors carrying line and key.
		if m := typeErrRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			col := 0
			key := m[2]
			if i := strings.LastIndex(key, "."); i >= 0 && line > 0 {
				if raw := strings.Split(string(src), "\n"); line <= len(raw) {
					col = strings.Index(raw[line-1], key[i+1:]) + 1
				}
			}
			return nil, &ConfigError{File: name, Line: line, Column: col, Key: key, Problem: m[3],
				Hint: "check the value's type: strings need quotes, true/false and numbers need none"}
		}
		return nil, &ConfigError{File: name, Problem: err.Error(), Hint: "check the TOML syntax"}
	}
	loc := newLocator(src)
	var errs []error
	add := func(table, key, label, problem, hint string) {
		line, col := loc.find(table, key)
		errs = append(errs, &ConfigError{File: name, Line: line, Column: col, Key: label, Problem: problem, Hint: hint})
	}
	for _, k := range md.Undecoded() {
		table, key, label := "", k[len(k)-1], k.String()
		parent := ""
		if len(k) > 1 {
			parent = k[0]
			table = parent
			if parent == "account" {
				table = "account#*"
			}
		}
		hint := "remove it"
		if s := closest(key, knownKeys[parent]); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		add(table, key, label, "unknown key", hint)
	}

	cfg := Default()
	cfg.Theme = fc.Theme
	if fc.Keystore != "" {
		cfg.Keystore = strings.ToLower(fc.Keystore)
		if !contains(keystoreChoices, cfg.Keystore) {
			add("", "keystore", "keystore", fmt.Sprintf("unknown keystore %q", fc.Keystore), `use "auto", "keyring" or "file"`)
		}
	}
	for action, key := range fc.Keys {
		if strings.TrimSpace(key) == "" {
			add("keys", action, "keys."+action, "empty key binding", "give a key such as \"ctrl+k\", or remove the line to keep the default")
		}
		cfg.Keys[action] = key
	}
	if n := fc.Notifications; n != nil {
		if n.Enabled != nil {
			cfg.Notifications.Enabled = *n.Enabled
		}
		if n.Bell != nil {
			cfg.Notifications.Bell = *n.Bell
		}
		if n.Title != nil {
			cfg.Notifications.Title = *n.Title
		}
		if n.Preview != nil {
			cfg.Notifications.Preview = *n.Preview
		}
		if n.Desktop != "" {
			cfg.Notifications.Desktop = strings.ToLower(strings.TrimSpace(n.Desktop))
			if !contains(desktopChoices, cfg.Notifications.Desktop) {
				hint := `use "off", "osc9" (iTerm2, WezTerm, Windows Terminal, Ghostty, kitty) or "osc777" (foot, rxvt, VTE/GNOME)`
				if s := closest(cfg.Notifications.Desktop, desktopChoices); s != "" {
					hint = fmt.Sprintf("did you mean %q?", s)
				}
				add("notifications", "desktop", "notifications.desktop", fmt.Sprintf("unknown desktop notification kind %q", n.Desktop), hint)
			}
		}
	}
	if im := fc.Images; im != nil && im.Protocol != "" {
		cfg.Images.Protocol = strings.ToLower(strings.TrimSpace(im.Protocol))
		if !contains(imageChoices, cfg.Images.Protocol) {
			hint := `use "auto", "kitty", "sixel", "halfblocks" or "off"`
			if s := closest(cfg.Images.Protocol, imageChoices); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			add("images", "protocol", "images.protocol", fmt.Sprintf("unknown image protocol %q", im.Protocol), hint)
		}
	}

	seen := map[string]int{}
	for i, fa := range fc.Accounts {
		table := "account#" + strconv.Itoa(i)
		label := fmt.Sprintf("account[%d]", i+1)
		acc, problems := fa.toAccount(filepath.Dir(name))
		for _, p := range problems {
			add(table, p.key, label+"."+p.key, p.problem, p.hint)
		}
		if j, dup := seen[acc.ID]; dup && acc.ID != "" {
			key := "id"
			if fa.ID == "" {
				key = "address"
			}
			add(table, key, label, fmt.Sprintf("duplicate account id %q (also account[%d])", acc.ID, j+1),
				`remove one of them, or give one a distinct id = "..."`)
		}
		seen[acc.ID] = i
		cfg.Accounts = append(cfg.Accounts, acc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

var typeErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

type problem struct{ key, problem, hint string }

// toAccount converts and validates one [[account]]; dir resolves ca_file.
func (fa fileAccount) toAccount(dir string) (Account, []problem) {
	var ps []problem
	acc := Account{
		ID:           strings.TrimSpace(fa.ID),
		Address:      strings.TrimSpace(fa.Address),
		Server:       strings.TrimSpace(fa.Server),
		CAFile:       strings.TrimSpace(fa.CAFile),
		InsecureTLS:  fa.InsecureTLS,
		DisplayName:  fa.DisplayName,
		Enabled:      fa.Enabled == nil || *fa.Enabled,
		Reachability: Reachability(strings.ToLower(strings.TrimSpace(fa.Reachability))),
	}
	if fa.Network == "" {
		ps = append(ps, problem{"network", "missing network", `add network = "matrix", "xmpp" or "whatsapp"`})
	} else if n, err := protocols.ParseNetwork(fa.Network); err != nil {
		hint := `use "matrix", "xmpp" or "whatsapp"`
		if s := closest(strings.ToLower(fa.Network), networkNames()); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		ps = append(ps, problem{"network", fmt.Sprintf("unknown network %q", fa.Network), hint})
	} else {
		acc.Network = n
	}
	if acc.Network != "" {
		if p, ok := checkAddress(acc.Network, acc.Address); !ok {
			ps = append(ps, p)
		}
		if acc.Server != "" {
			if p, ok := checkServer(acc.Network, acc.Server); !ok {
				ps = append(ps, p)
			}
		}
	}
	if acc.ID == "" && acc.Network != "" {
		acc.ID = DefaultID(acc.Network, acc.Address)
	}
	switch acc.Reachability {
	case "":
		acc.Reachability = ReachEveryone
	case ReachEveryone, ReachContacts, ReachOwnServer:
	default:
		ps = append(ps, problem{"reachability", fmt.Sprintf("unknown reachability %q", fa.Reachability),
			`use "everyone", "contacts" or "own-server"`})
	}
	if fa.HistoryDays < 0 || fa.HistoryMsgs < 0 {
		ps = append(ps, problem{"history_days", "history_days and history_messages cannot be negative",
			"leave them out for the default (30 days, 2000 messages)"})
	}
	acc.HistoryDays, acc.HistoryMessages = fa.HistoryDays, fa.HistoryMsgs
	if is := strings.TrimSpace(fa.IdentitySrv); is != "" {
		u, err := url.Parse(is)
		switch {
		case acc.Network != "" && acc.Network != protocols.Matrix:
			ps = append(ps, problem{"identity_server", "identity_server is for Matrix accounts only", "remove it from this account"})
		case err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopbackServer(is))):
			ps = append(ps, problem{"identity_server", fmt.Sprintf("identity_server %q is not an https URL", is), `e.g. identity_server = "https://vector.im"`})
		default:
			acc.IdentityServer = is
		}
	}
	if acc.InsecureTLS && !loopbackServer(acc.Server) {
		ps = append(ps, problem{"insecure_tls", "insecure_tls is only allowed with a loopback server",
			`set server = "127.0.0.1:5222" (or a http://127.0.0.1 URL) for a local test server, or use ca_file for a private CA`})
	}
	if acc.CAFile != "" {
		p := acc.CAFile
		if strings.HasPrefix(p, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				p = filepath.Join(home, p[2:])
			}
		} else if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Stat(p); err != nil {
			ps = append(ps, problem{"ca_file", fmt.Sprintf("cannot read CA file %s", p), "check the path (relative paths start at the config directory)"})
		} else {
			acc.CAFile = p
		}
	}
	return acc, ps
}

// Validate checks an Account built in code (e.g. by an add dialog) with the
// same rules as config.toml, and fills the ID and defaults.
func (a *Account) Validate() error {
	fa := fileAccount{ID: a.ID, Network: string(a.Network), Address: a.Address, Server: a.Server, CAFile: a.CAFile,
		InsecureTLS: a.InsecureTLS, DisplayName: a.DisplayName, Enabled: &a.Enabled, Reachability: string(a.Reachability),
		IdentitySrv: a.IdentityServer}
	acc, ps := fa.toAccount(".")
	if len(ps) > 0 {
		var errs []error
		for _, p := range ps {
			msg := p.key + ": " + p.problem
			if p.hint != "" {
				msg += " (" + p.hint + ")"
			}
			errs = append(errs, errors.New(msg))
		}
		return errors.Join(errs...)
	}
	acc.DataDir = a.DataDir
	*a = acc
	return nil
}

func checkAddress(n protocols.Network, addr string) (problem, bool) {
	if addr == "" {
		return problem{"address", "missing address", exampleAddress(n)}, false
	}
	switch n {
	case protocols.Matrix:
		local, server, ok := strings.Cut(strings.TrimPrefix(addr, "@"), ":")
		if !strings.HasPrefix(addr, "@") || !ok || local == "" || server == "" || strings.ContainsAny(addr, " /") {
			return problem{"address", fmt.Sprintf("%q is not a Matrix user ID", addr), exampleAddress(n)}, false
		}
	case protocols.XMPP:
		local, domain, ok := strings.Cut(addr, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(addr, " /") {
			return problem{"address", fmt.Sprintf("%q is not a bare XMPP address", addr), exampleAddress(n)}, false
		}
	case protocols.WhatsApp:
		digits := strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, strings.TrimPrefix(addr, "+"))
		if _, err := strconv.ParseUint(digits, 10, 64); err != nil || len(digits) < 7 || len(digits) > 15 {
			return problem{"address", fmt.Sprintf("%q is not a phone number", addr), exampleAddress(n)}, false
		}
	}
	return problem{}, true
}

func exampleAddress(n protocols.Network) string {
	switch n {
	case protocols.Matrix:
		return `write it as address = "@alice:example.org"`
	case protocols.XMPP:
		return `write it as address = "alice@example.org" (no /resource)`
	default:
		return `write it in international form: address = "+4915123456789"`
	}
}

func checkServer(n protocols.Network, s string) (problem, bool) {
	switch n {
	case protocols.XMPP:
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			return problem{"server", fmt.Sprintf("%q is not host:port", s), `write server = "xmpp.example.org:5222"`}, false
		}
	case protocols.Matrix:
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return problem{"server", fmt.Sprintf("%q is not a homeserver URL", s), `write server = "https://matrix.example.org"`}, false
		}
	case protocols.WhatsApp:
		return problem{"server", "WhatsApp accounts take no server", "remove the server line"}, false
	}
	return problem{}, true
}

// loopbackServer reports whether a server override points at this machine.
func loopbackServer(s string) bool {
	if s == "" {
		return false
	}
	host := s
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseHint(pe toml.ParseError) string {
	switch {
	case strings.Contains(pe.Message, "incompatible types"):
		return "check the value's type: strings need quotes, true/false need none"
	case strings.Contains(pe.Message, "has already been defined"):
		return "each key may appear once per table; use [[account]] for each account"
	default:
		return "check the TOML syntax on that line"
	}
}

// Save writes cfg to path atomically with mode 0600. It refuses to replace
// a file that does not load, so a hand edit with a typo is never lost. An
// existing file is edited in place (configedit.go) so the user's comments
// and layout survive.
func Save(path string, cfg *Config) error { return SaveLogged(path, cfg, zerolog.Nop()) }

// SaveLogged is Save with a logger for the rare full rewrite.
func SaveLogged(path string, cfg *Config, log zerolog.Logger) error {
	old, err := os.ReadFile(path)
	exists := err == nil
	var oldCfg *Config
	if exists {
		if oldCfg, err = Parse(path, old); err != nil {
			return fmt.Errorf("refusing to overwrite %s because it does not load; fix it or move it aside first: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading config: %w", err)
	}
	fc := toFile(cfg)
	data, err := render(fc)
	if err != nil {
		return err
	}
	// want is what the file must load to, whichever way it is written.
	want, err := Parse(path, data)
	if err != nil {
		return fmt.Errorf("not saving an invalid config: %w", err)
	}
	if exists {
		edited, err := editConfig(old, oldCfg, want, fc)
		if err == nil {
			err = checkLoadsAs(path, edited, want)
		}
		if err == nil {
			if bytes.Equal(edited, old) {
				return nil
			}
			data = edited
		} else {
			// Rewriting loses the user's layout: keep their file beside it.
			if berr := keystore.WriteFileAtomic(path+".bak", old); berr != nil {
				return fmt.Errorf("config not changed: cannot edit it in place (%v) nor back it up: %w", err, berr)
			}
			log.Warn().Err(err).Str("file", path).Str("backup", path+".bak").
				Msg("config could not be edited in place; rewrote it in full, the old text is in the backup")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return keystore.WriteFileAtomic(path, data)
}

// checkLoadsAs verifies that edited text loads to exactly want.
func checkLoadsAs(path string, edited []byte, want *Config) error {
	got, err := Parse(path, edited)
	if err != nil {
		return fmt.Errorf("edited text does not load: %w", err)
	}
	if !reflect.DeepEqual(got, want) {
		return errors.New("edited text loads to a different config")
	}
	return nil
}

// Encode renders cfg as a fresh TOML file (Save keeps an existing file's
// comments by editing it instead).
func Encode(cfg *Config) ([]byte, error) { return render(toFile(cfg)) }

// toFile is cfg as it is written: defaults left out.
func toFile(cfg *Config) fileConfig {
	fc := fileConfig{Theme: cfg.Theme, Keys: cfg.Keys}
	if cfg.Keystore != "" && cfg.Keystore != "auto" {
		fc.Keystore = cfg.Keystore
	}
	if n := cfg.Notifications; !n.Enabled || n.Bell || !n.Title || (n.Desktop != "" && n.Desktop != "off") || n.Preview {
		fn := &fileNotif{Enabled: &n.Enabled, Bell: &n.Bell, Title: &n.Title, Preview: &n.Preview}
		if n.Desktop != "off" {
			fn.Desktop = n.Desktop
		}
		fc.Notifications = fn
	}
	if p := cfg.Images.Protocol; p != "" && p != "auto" {
		fc.Images = &fileImages{Protocol: p}
	}
	for _, a := range cfg.Accounts {
		fa := fileAccount{Network: string(a.Network), Address: a.Address, Server: a.Server, CAFile: a.CAFile,
			InsecureTLS: a.InsecureTLS, DisplayName: a.DisplayName, HistoryDays: a.HistoryDays, HistoryMsgs: a.HistoryMessages,
			IdentitySrv: a.IdentityServer}
		if a.ID != DefaultID(a.Network, a.Address) {
			fa.ID = a.ID
		}
		if !a.Enabled {
			f := false
			fa.Enabled = &f
		}
		if a.Reachability != "" && a.Reachability != ReachEveryone {
			fa.Reachability = string(a.Reachability)
		}
		fc.Accounts = append(fc.Accounts, fa)
	}
	return fc
}

func render(fc fileConfig) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Polyglot configuration. Written by polyglot; edits by hand are welcome.\n\n")
	if err := toml.NewEncoder(&buf).Encode(fc); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return buf.Bytes(), nil
}

func networkNames() []string {
	var out []string
	for _, n := range protocols.Networks {
		out = append(out, string(n))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closest returns the candidate within edit distance 2 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// locator finds the line and column of a key in the raw TOML, for
// validation errors the decoder cannot place.
type locator struct{ lines []string }

func newLocator(src []byte) locator { return locator{strings.Split(string(src), "\n")} }

// find returns the position of key in table: "" (root), "notifications",
// "account#2" (third [[account]]) or "account#*" (any account).
func (l locator) find(table, key string) (line, col int) {
	cur := ""
	counts := map[string]int{}
	for i, raw := range l.lines {
		t := strings.TrimSpace(raw)
		switch {
		case strings.HasPrefix(t, "[["):
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(t, "]]", 2)[0], "[["), "]]"))
			cur = name + "#" + strconv.Itoa(counts[name])
			counts[name]++
			continue
		case strings.HasPrefix(t, "["):
			cur = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(t, "]", 2)[0], "["))
			continue
		}
		if !(cur == table || (strings.HasSuffix(table, "#*") && strings.HasPrefix(cur, strings.TrimSuffix(table, "*")))) {
			continue
		}
		for _, k := range []string{key, `"` + key + `"`} {
			if rest, ok := strings.CutPrefix(t, k); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
				return i + 1, strings.Index(raw, k) + 1
			}
		}
	}
	// The key is absent (e.g. "missing network"): point at the table header.
	cur = ""
	counts = map[string]int{}
	for i, raw := range l.lines {
		t := strings.TrimSpace(raw)
		if strings.HasPrefix(t, "[[") {
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(t, "]]", 2)[0], "[["), "]]"))
			if name+"#"+strconv.Itoa(counts[name]) == table {
				return i + 1, strings.Index(raw, "[") + 1
			}
			counts[name]++
		}
	}
	return 0, 0
}

// Clone is a deep copy: the maps and the account list are the copy's own.
func (c *Config) Clone() *Config {
	out := *c
	out.Keys = make(map[string]string, len(c.Keys))
	for k, v := range c.Keys {
		out.Keys[k] = v
	}
	out.Accounts = append([]Account(nil), c.Accounts...)
	return &out
}
