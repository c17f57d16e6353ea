package matrix_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
)

// identityStub is the one stub of these tests (no identity server runs
// here): a minimal identity service API v2 that checks OpenID tokens with
// the real homeserver, wants its terms accepted before any hash_details or
// lookup, and records every request exactly as it arrived.
type identityStub struct {
	t        *testing.T
	userDB   string // the homeserver's user database, to check OpenID tokens
	pepper   string
	known    map[string]string // "address medium" → Matrix user ID
	mu       sync.Mutex
	requests []string          // method, URL, headers and body of each request
	tokens   map[string]string // identity token → user ID
	accepted map[string]bool   // user IDs who accepted the terms
	refused  int               // hash_details/lookup calls refused for terms
}

const stubPolicyURL = "https://is.example/privacy-v1.html"

func (s *identityStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var rec strings.Builder
	rec.WriteString(r.Method + " " + r.URL.String() + "\n")
	for k, v := range r.Header {
		rec.WriteString(k + ": " + strings.Join(v, ",") + "\n")
	}
	rec.Write(body)
	s.mu.Lock()
	s.requests = append(s.requests, rec.String())
	s.mu.Unlock()

	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	user := func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	}
	const p = "/_matrix/identity/v2"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == p+"/account/register":
		var ot struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &ot)
		// A real identity server asks the homeserver whose token it is
		// (federation openid/userinfo); the test Dendrite serves no
		// federation, so the stub reads the token from its user database:
		// the token must be one the homeserver really issued.
		sub, err := s.openIDUser(ot.AccessToken)
		if err != nil {
			reply(401, map[string]string{"errcode": "M_UNAUTHORIZED", "error": "OpenID token refused: " + err.Error()})
			return
		}
		info := struct{ Sub string }{sub}
		tok := "istoken-" + info.Sub + "-" + time.Now().Format("150405.000000000")
		s.mu.Lock()
		s.tokens[tok] = info.Sub
		s.mu.Unlock()
		reply(200, map[string]string{"token": tok})
	case r.Method == http.MethodGet && r.URL.Path == p+"/terms":
		reply(200, map[string]any{"policies": map[string]any{"privacy_policy": map[string]any{
			"version": "1.0", "en": map[string]string{"name": "Privacy Policy", "url": stubPolicyURL}}}})
	case user() == "":
		reply(401, map[string]string{"errcode": "M_UNAUTHORIZED", "error": "no token"})
	case r.Method == http.MethodPost && r.URL.Path == p+"/terms":
		var acc struct {
			UserAccepts []string `json:"user_accepts"`
		}
		_ = json.Unmarshal(body, &acc)
		if len(acc.UserAccepts) == 1 && acc.UserAccepts[0] == stubPolicyURL {
			u := user()
			s.mu.Lock()
			s.accepted[u] = true
			s.mu.Unlock()
		}
		reply(200, map[string]any{})
	case r.Method == http.MethodPost && r.URL.Path == p+"/account/logout":
		s.mu.Lock()
		delete(s.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		s.mu.Unlock()
		reply(200, map[string]any{})
	case !s.hasAccepted(user()):
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		reply(403, map[string]string{"errcode": "M_TERMS_NOT_SIGNED", "error": "accept the terms first"})
	case r.Method == http.MethodGet && r.URL.Path == p+"/hash_details":
		reply(200, map[string]any{"algorithms": []string{"none", "sha256"}, "lookup_pepper": s.pepper})
	case r.Method == http.MethodPost && r.URL.Path == p+"/lookup":
		var req struct {
			Addresses []string `json:"addresses"`
			Algorithm string   `json:"algorithm"`
			Pepper    string   `json:"pepper"`
		}
		_ = json.Unmarshal(body, &req)
		if req.Algorithm != "sha256" || req.Pepper != s.pepper {
			reply(400, map[string]string{"errcode": "M_INVALID_PEPPER", "error": "wrong pepper or algorithm"})
			return
		}
		out := map[string]string{}
		for k, mxid := range s.known {
			parts := strings.SplitN(k, " ", 2)
			h := matrix.LookupHash(parts[0], parts[1], s.pepper)
			for _, a := range req.Addresses {
				if a == h {
					out[h] = mxid
				}
			}
		}
		reply(200, map[string]any{"mappings": out})
	default:
		reply(404, map[string]string{"errcode": "M_UNRECOGNIZED"})
	}
}

// openIDUser is the user the homeserver issued an unexpired OpenID token to.
func (s *identityStub) openIDUser(token string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+s.userDB+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var local, server string
	var expires int64
	if err := db.QueryRow(`SELECT localpart, server_name, token_expires_at_ms FROM userapi_openid_tokens WHERE token = ?`, token).Scan(&local, &server, &expires); err != nil {
		return "", err
	}
	if time.Now().UnixMilli() > expires {
		return "", errors.New("expired")
	}
	return "@" + local + ":" + server, nil
}

func (s *identityStub) hasAccepted(u string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted[u]
}

func (s *identityStub) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// TestIdentityHashedLookup: Polyglot finds a Matrix user by email address
// and by phone number through the identity server's hashed lookup, with
// the OpenID token of the real Dendrite; the terms are accepted first
// (before that, nothing about the person is sent and the stub would refuse
// a lookup); acceptance is remembered on the homeserver; and no request
// carries the address or the number in any form — only their hashes,
// the pepper and the algorithm.
func TestIdentityHashedLookup(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	const email, phone = "bob.secret@example.org", "491701234567"
	stub := &identityStub{t: t, userDB: d.DBPath("userapi"), pepper: "matrixrocks", tokens: map[string]string{}, accepted: map[string]bool{},
		known: map[string]string{email + " email": bob, phone + " msisdn": bob}}
	srv := httptest.NewServer(stub)
	defer srv.Close()

	cfg := cfgFor(t, alice, "password-alice")
	cfg.IdentityServer = srv.URL
	cfg.Account = "matrix:" + alice
	a := connect(t, d, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Terms first: nothing about the person leaves before the user accepts.
	_, err := a.c.FindContact(ctx, protocols.ContactQuery{Address: email}, protocols.FindOptions{})
	var te *protocols.TermsError
	if !errors.As(err, &te) || len(te.Policies) != 1 || te.Policies[0].URL != stubPolicyURL {
		t.Fatalf("lookup before accepting the terms: %v, want the terms to accept", err)
	}
	for _, r := range stub.log() {
		if strings.Contains(r, "/lookup") || strings.Contains(r, "/hash_details") {
			t.Fatalf("asked before the terms were accepted:\n%s", r)
		}
	}
	// The stub itself refuses a lookup from a registered user who has not
	// accepted: the order is the server's rule too.
	refusedBefore := stub.refused
	tok := registerRaw(t, d, alice, "password-alice", srv.URL)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/_matrix/identity/v2/hash_details", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("stub answered hash_details before terms: %v %v", resp, err)
	}
	if stub.refused != refusedBefore+1 {
		t.Fatal("the stub did not count its refusal")
	}

	res, err := a.c.FindContact(ctx, protocols.ContactQuery{Address: email}, protocols.FindOptions{AcceptTerms: true})
	if err != nil || !res.Found || res.Address.ID != bob || res.Address.Network != protocols.Matrix || res.By != "email address" {
		t.Fatalf("email lookup: %+v, %v", res, err)
	}
	// Remembered: the next lookup needs no new yes.
	res, err = a.c.FindContact(ctx, protocols.ContactQuery{Phone: phone}, protocols.FindOptions{})
	if err != nil || !res.Found || res.Address.ID != bob || res.By != "phone number" {
		t.Fatalf("phone lookup after accepting once: %+v, %v", res, err)
	}
	res, err = a.c.FindContact(ctx, protocols.ContactQuery{Address: "nobody@example.org"}, protocols.FindOptions{})
	if err != nil || res.Found {
		t.Fatalf("unknown address: %+v, %v", res, err)
	}
	if _, err := a.c.FindContact(ctx, protocols.ContactQuery{Address: "@bob:localhost"}, protocols.FindOptions{}); !errors.Is(err, protocols.ErrCannotLookUp) {
		t.Fatalf("a Matrix ID is no 3PID: %v", err)
	}

	log := stub.log()
	sawHash := false
	for _, r := range log {
		lower := strings.ToLower(r)
		for _, secret := range []string{email, url.QueryEscape(email), "bob.secret", phone, "1701234567"} {
			if strings.Contains(lower, strings.ToLower(secret)) {
				t.Fatalf("plaintext %q reached the identity server:\n%s", secret, r)
			}
		}
		if strings.Contains(r, "/lookup") {
			var body struct {
				Addresses []string `json:"addresses"`
				Algorithm string   `json:"algorithm"`
				Pepper    string   `json:"pepper"`
			}
			if err := json.Unmarshal([]byte(r[strings.Index(r, "{"):]), &body); err != nil {
				t.Fatalf("lookup body: %v\n%s", err, r)
			}
			if len(body.Addresses) != 1 || body.Algorithm != "sha256" || body.Pepper != stub.pepper {
				t.Fatalf("lookup sent %+v: one hash, sha256 and the pepper expected", body)
			}
			if body.Addresses[0] == matrix.LookupHash(email, "email", stub.pepper) {
				sawHash = true
			}
		}
	}
	if !sawHash {
		t.Fatalf("no lookup carried the email's hash:\n%s", strings.Join(log, "\n---\n"))
	}
}

// registerRaw registers alice with the identity server by hand (a second
// login's OpenID token), as a client that skips the terms would.
func registerRaw(t *testing.T, d *testserver.Dendrite, user, pass, is string) string {
	t.Helper()
	body := `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"` + strings.TrimPrefix(strings.Split(user, ":")[0], "@") + `"},"password":"` + pass + `"}`
	var login struct {
		AccessToken string `json:"access_token"`
	}
	postJSON(t, d.URL()+"/_matrix/client/v3/login", "", body, &login)
	var ot map[string]any
	postJSON(t, d.URL()+"/_matrix/client/v3/user/"+url.PathEscape(user)+"/openid/request_token", login.AccessToken, "{}", &ot)
	b, _ := json.Marshal(ot)
	var reg struct {
		Token string `json:"token"`
	}
	postJSON(t, is+"/_matrix/identity/v2/account/register", "", string(b), &reg)
	if reg.Token == "" {
		t.Fatal("no identity token")
	}
	return reg.Token
}

func postJSON(t *testing.T, u, token, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
}

// TestIdentityServerMissing: an account with no identity server (none in
// its config, none in .well-known) says so and sends nothing.
func TestIdentityServerMissing(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := a.c.FindContact(ctx, protocols.ContactQuery{Address: "bob@example.org"}, protocols.FindOptions{})
	if !errors.Is(err, matrix.ErrNoIdentityServer) || !strings.Contains(err.Error(), "identity_server") {
		t.Fatalf("no identity server: %v", err)
	}
}
