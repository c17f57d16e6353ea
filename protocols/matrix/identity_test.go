package matrix_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
)

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
	stub := testserver.StartIdentityStub(t, d, map[string]string{email + " email": bob, phone + " msisdn": bob})

	cfg := cfgFor(t, alice, "password-alice")
	cfg.IdentityServer = stub.URL()
	cfg.Account = "matrix:" + alice
	a := connect(t, d, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Terms first: nothing about the person leaves before the user accepts.
	_, err := a.c.FindContact(ctx, protocols.ContactQuery{Address: email}, protocols.FindOptions{})
	var te *protocols.TermsError
	if !errors.As(err, &te) || len(te.Policies) != 1 || te.Policies[0].URL != testserver.IdentityPolicyURL {
		t.Fatalf("lookup before accepting the terms: %v, want the terms to accept", err)
	}
	for _, r := range stub.Requests() {
		if strings.Contains(r, "/lookup") || strings.Contains(r, "/hash_details") {
			t.Fatalf("asked before the terms were accepted:\n%s", r)
		}
	}
	// The stub itself refuses a lookup from a registered user who has not
	// accepted: the order is the server's rule too.
	refusedBefore := stub.Refused()
	tok := registerRaw(t, d, alice, "password-alice", stub.URL())
	req, _ := http.NewRequest(http.MethodGet, stub.URL()+"/_matrix/identity/v2/hash_details", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("stub answered hash_details before terms: %v %v", resp, err)
	}
	if stub.Refused() != refusedBefore+1 {
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

	log := stub.Requests()
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
			if len(body.Addresses) != 1 || body.Algorithm != "sha256" || body.Pepper != stub.Pepper() {
				t.Fatalf("lookup sent %+v: one hash, sha256 and the pepper expected", body)
			}
			if body.Addresses[0] == stub.LookupHash(email, "email") {
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
