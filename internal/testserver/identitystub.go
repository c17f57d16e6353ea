package testserver

import (
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the test Dendrite's OpenID tokens
)

// IdentityStub is the one stub of the contact-lookup tests (no identity
// server runs here): a minimal Matrix identity service API v2 that checks
// OpenID tokens against the real test Dendrite, wants its terms accepted
// before any hash_details or lookup, hashes its known 3PIDs itself (so a
// client's hash is checked against the spec, not against itself), and
// records every request exactly as it arrived.
type IdentityStub struct {
	srv      *httptest.Server
	userDB   string
	pepper   string
	known    map[string]string // "address medium" → Matrix user ID
	mu       sync.Mutex
	requests []string          // method, URL, headers and body of each request
	tokens   map[string]string // identity token → user ID
	accepted map[string]bool   // user IDs who accepted the terms
	refused  int               // hash_details/lookup calls refused for terms
}

// IdentityPolicyURL is the stub's one policy document.
const IdentityPolicyURL = "https://is.example/privacy-v1.html"

// StartIdentityStub serves an identity server for d's users; known maps
// "address medium" (e.g. "bob@example.org email", "4917… msisdn") to the
// Matrix user ID a lookup returns. It stops when the test ends.
func StartIdentityStub(t testing.TB, d *Dendrite, known map[string]string) *IdentityStub {
	s := &IdentityStub{userDB: d.DBPath("userapi"), pepper: "matrixrocks", known: known,
		tokens: map[string]string{}, accepted: map[string]bool{}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the identity server's base URL.
func (s *IdentityStub) URL() string { return s.srv.URL }

// Pepper is the lookup pepper the stub hands out.
func (s *IdentityStub) Pepper() string { return s.pepper }

// Requests is every request so far: method and URL, headers, body.
func (s *IdentityStub) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Refused counts hash_details and lookup calls refused because the user
// had not accepted the terms.
func (s *IdentityStub) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// LookupHash is the spec's sha256 lookup hash, written here apart from
// the client's.
func (s *IdentityStub) LookupHash(address, medium string) string {
	h := sha256.Sum256([]byte(address + " " + medium + " " + s.pepper))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *IdentityStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	user := s.tokens[token]
	accepted := s.accepted[user]
	s.mu.Unlock()
	const p = "/_matrix/identity/v2"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == p+"/account/register":
		var ot struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &ot)
		sub, err := s.openIDUser(ot.AccessToken)
		if err != nil {
			reply(401, map[string]string{"errcode": "M_UNAUTHORIZED", "error": "OpenID token refused: " + err.Error()})
			return
		}
		tok := "istoken-" + sub + "-" + time.Now().Format("150405.000000000")
		s.mu.Lock()
		s.tokens[tok] = sub
		s.mu.Unlock()
		reply(200, map[string]string{"token": tok})
	case r.Method == http.MethodGet && r.URL.Path == p+"/terms":
		reply(200, map[string]any{"policies": map[string]any{"privacy_policy": map[string]any{
			"version": "1.0", "en": map[string]string{"name": "Privacy Policy", "url": IdentityPolicyURL}}}})
	case user == "":
		reply(401, map[string]string{"errcode": "M_UNAUTHORIZED", "error": "no token"})
	case r.Method == http.MethodPost && r.URL.Path == p+"/terms":
		var acc struct {
			UserAccepts []string `json:"user_accepts"`
		}
		_ = json.Unmarshal(body, &acc)
		if len(acc.UserAccepts) == 1 && acc.UserAccepts[0] == IdentityPolicyURL {
			s.mu.Lock()
			s.accepted[user] = true
			s.mu.Unlock()
		}
		reply(200, map[string]any{})
	case r.Method == http.MethodPost && r.URL.Path == p+"/account/logout":
		s.mu.Lock()
		delete(s.tokens, token)
		s.mu.Unlock()
		reply(200, map[string]any{})
	case !accepted:
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
			h := s.LookupHash(parts[0], parts[1])
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

// openIDUser is the user the homeserver issued an unexpired OpenID token
// to. A real identity server asks the homeserver (federation
// openid/userinfo); the test Dendrite serves no federation, so the stub
// reads its user database: the token must be one it really issued.
func (s *IdentityStub) openIDUser(token string) (string, error) {
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
