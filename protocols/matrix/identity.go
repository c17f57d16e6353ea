package matrix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

var _ protocols.ContactFinder = (*Connector)(nil)

// ErrNoIdentityServer: the account has no identity server to ask.
var ErrNoIdentityServer = errors.New("no identity server configured: set identity_server in the account's config.toml entry (your homeserver's .well-known names none)")

// FindContact asks the account's identity server which Matrix user has
// an email address or phone number, by the hashed lookup of the identity
// service API v2: the server gives a pepper, and only
// base64url(sha256("ADDRESS MEDIUM PEPPER")) leaves the device — never
// the address or number. The user accepts the identity server's terms
// first (opt.AcceptTerms); the acceptance is remembered in the account's
// m.accepted_terms account data, as the spec asks. The identity server
// token lives only for this lookup.
func (c *Connector) FindContact(ctx context.Context, q protocols.ContactQuery, opt protocols.FindOptions) (protocols.FindResult, error) {
	medium, address, by := "email", q.Address, "email address"
	if q.IsPhone() {
		medium, address, by = "msisdn", q.Phone, "phone number"
	}
	if address == "" || (!q.IsPhone() && (strings.HasPrefix(address, "@") || !strings.Contains(address, "@"))) {
		return protocols.FindResult{}, fmt.Errorf("Matrix finds people by email address or phone number: %w", protocols.ErrCannotLookUp)
	}
	cli, _, _, err := c.client()
	if err != nil {
		return protocols.FindResult{}, err
	}
	base, err := c.identityServer(ctx, cli)
	if err != nil {
		return protocols.FindResult{}, err
	}
	is := &identityClient{base: base, hc: cli.Client}

	ot, err := cli.RequestOpenIDToken(ctx)
	if err != nil {
		return protocols.FindResult{}, fmt.Errorf("matrix: asking the homeserver for an OpenID token: %w", err)
	}
	var reg struct {
		Token string `json:"token"`
	}
	if err := is.do(ctx, http.MethodPost, "/account/register", ot, &reg); err != nil {
		return protocols.FindResult{}, err
	}
	if reg.Token == "" {
		return protocols.FindResult{}, fmt.Errorf("identity server %s gave no token", base)
	}
	is.token = reg.Token
	defer func() { _ = is.do(context.WithoutCancel(ctx), http.MethodPost, "/account/logout", struct{}{}, nil) }()

	if err := c.acceptTerms(ctx, cli, is, opt.AcceptTerms); err != nil {
		return protocols.FindResult{}, err
	}

	var details struct {
		Algorithms []string `json:"algorithms"`
		Pepper     string   `json:"lookup_pepper"`
	}
	if err := is.do(ctx, http.MethodGet, "/hash_details", nil, &details); err != nil {
		return protocols.FindResult{}, err
	}
	hasSHA := false
	for _, a := range details.Algorithms {
		hasSHA = hasSHA || a == "sha256"
	}
	if !hasSHA || details.Pepper == "" {
		// "none" would send the address in the clear: never.
		return protocols.FindResult{}, fmt.Errorf("identity server %s offers no sha256 lookup; nothing was sent about the person", base)
	}
	h := LookupHash(address, medium, details.Pepper)
	var found struct {
		Mappings map[string]string `json:"mappings"`
	}
	if err := is.do(ctx, http.MethodPost, "/lookup", map[string]any{
		"addresses": []string{h}, "algorithm": "sha256", "pepper": details.Pepper,
	}, &found); err != nil {
		return protocols.FindResult{}, err
	}
	mxid := id.UserID(found.Mappings[h])
	if mxid == "" {
		return protocols.FindResult{By: by}, nil
	}
	if _, _, err := mxid.Parse(); err != nil || !strings.HasPrefix(string(mxid), "@") {
		return protocols.FindResult{}, fmt.Errorf("identity server %s answered with %q, not a Matrix user ID", base, mxid)
	}
	a := userAddress(mxid)
	a.Account = protocols.AccountID(c.cfg.Account)
	return protocols.FindResult{Found: true, Address: a, By: by}, nil
}

// LookupHash is the identity service's sha256 lookup hash of one 3PID:
// unpadded base64url of sha256("ADDRESS MEDIUM PEPPER").
func LookupHash(address, medium, pepper string) string {
	sum := sha256.Sum256([]byte(address + " " + medium + " " + pepper))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// identityServer is the configured identity server, else the one the
// user chose in their m.identity_server account data, else the one their
// homeserver's .well-known names.
func (c *Connector) identityServer(ctx context.Context, cli *mautrix.Client) (string, error) {
	if c.cfg.IdentityServer != "" {
		return strings.TrimRight(c.cfg.IdentityServer, "/"), nil
	}
	var chosen struct {
		BaseURL *string `json:"base_url"`
	}
	if err := cli.GetAccountData(ctx, "m.identity_server", &chosen); err == nil && chosen.BaseURL != nil {
		if *chosen.BaseURL == "" {
			return "", ErrNoIdentityServer // the user turned it off elsewhere
		}
		return strings.TrimRight(*chosen.BaseURL, "/"), nil
	}
	_, server, _ := id.UserID(c.cfg.UserID).Parse()
	wk, err := mautrix.DiscoverClientAPIWithClient(ctx, cli.Client, server)
	if err != nil || wk == nil || wk.IdentityServer.BaseURL == "" {
		return "", ErrNoIdentityServer
	}
	return strings.TrimRight(wk.IdentityServer.BaseURL, "/"), nil
}

// acceptTerms makes the identity server's current terms accepted for this
// lookup: already accepted (m.accepted_terms), or accepted now by the
// user; else a *protocols.TermsError lists what to accept, and nothing
// about the person has been sent.
func (c *Connector) acceptTerms(ctx context.Context, cli *mautrix.Client, is *identityClient, accept bool) error {
	var terms struct {
		Policies map[string]json.RawMessage `json:"policies"`
	}
	if err := is.do(ctx, http.MethodGet, "/terms", nil, &terms); err != nil {
		return err
	}
	policies := parsePolicies(terms.Policies)
	if len(policies) == 0 {
		return nil
	}
	var remembered struct {
		Accepted []string `json:"accepted"`
	}
	_ = cli.GetAccountData(ctx, "m.accepted_terms", &remembered) // none yet: M_NOT_FOUND
	known := map[string]bool{}
	for _, u := range remembered.Accepted {
		known[u] = true
	}
	var urls, missing []string
	for _, p := range policies {
		urls = append(urls, p.URL)
		if !known[p.URL] {
			missing = append(missing, p.URL)
		}
	}
	if len(missing) > 0 && !accept {
		return &protocols.TermsError{Service: is.base, Policies: policies}
	}
	if err := is.do(ctx, http.MethodPost, "/terms", map[string]any{"user_accepts": urls}, nil); err != nil {
		return err
	}
	if len(missing) > 0 {
		remembered.Accepted = append(remembered.Accepted, missing...)
		if err := cli.SetAccountData(ctx, "m.accepted_terms", remembered); err != nil {
			return fmt.Errorf("matrix: remembering the accepted terms: %w", err)
		}
	}
	return nil
}

// parsePolicies reads the terms' policies, one document each, in English
// where offered, else the first language, sorted by name.
func parsePolicies(raw map[string]json.RawMessage) []protocols.Policy {
	var out []protocols.Policy
	for _, r := range raw {
		var langs map[string]json.RawMessage
		if json.Unmarshal(r, &langs) != nil {
			continue
		}
		var version string
		_ = json.Unmarshal(langs["version"], &version)
		keys := make([]string, 0, len(langs))
		for k := range langs {
			if k != "version" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for i, k := range keys {
			if k == "en" {
				keys[0], keys[i] = keys[i], keys[0]
			}
		}
		for _, k := range keys {
			var doc struct {
				Name string `json:"name"`
				URL  string `json:"url"`
			}
			if json.Unmarshal(langs[k], &doc) == nil && doc.URL != "" {
				out = append(out, protocols.Policy{Name: doc.Name, Version: version, URL: doc.URL})
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

// identityClient speaks the identity service API v2 at base.
type identityClient struct {
	base  string
	hc    *http.Client
	token string
}

// do sends one request under /_matrix/identity/v2 and decodes the answer
// into out; a Matrix error becomes an error naming the server.
func (is *identityClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u, err := url.JoinPath(is.base, "/_matrix/identity/v2", path)
	if err != nil {
		return fmt.Errorf("identity server URL %q: %w", is.base, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if is.token != "" {
		req.Header.Set("Authorization", "Bearer "+is.token)
	}
	resp, err := is.hc.Do(req)
	if err != nil {
		return fmt.Errorf("identity server %s: %w", is.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("identity server %s: %w", is.base, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code string `json:"errcode"`
			Msg  string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Code == "M_TERMS_NOT_SIGNED" {
			return &protocols.TermsError{Service: is.base}
		}
		return fmt.Errorf("identity server %s: %s %s: HTTP %d %s %s", is.base, method, path, resp.StatusCode, e.Code, e.Msg)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("identity server %s: %s: %w", is.base, path, err)
	}
	return nil
}
