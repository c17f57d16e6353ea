package xmpp

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
)

// Files go by HTTP File Upload (XEP-0363): a slot from the server's upload
// service, a PUT, and the GET URL sent as the body with an OOB (XEP-0066)
// element, as Conversations does. With OMEMO the file is encrypted here
// with AES-256-GCM first and the body is an aesgcm:// URL whose fragment
// holds IV and key; it travels only inside the OMEMO message, so the
// server stores ciphertext and never sees the key.

const (
	nsUpload = "urn:xmpp:http:upload:0"
	nsOOB    = "jabber:x:oob"
	nsItems  = "http://jabber.org/protocol/disco#items"
	nsXData  = "jabber:x:data"
)

var _ protocols.Uploader = (*Connector)(nil)

// uploadService is the server's XEP-0363 component, found by disco.
type uploadService struct {
	jid   string
	limit int64 // max-file-size; 0 unknown
	gen   int   // session it was found in
	ok    bool
}

type uploadCache struct {
	mu  sync.Mutex
	svc uploadService
}

type discoItems struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
	Items   []struct {
		JID string `xml:"jid,attr"`
	} `xml:"http://jabber.org/protocol/disco#items item"`
}

type discoInfoForms struct {
	XMLName  xml.Name       `xml:"http://jabber.org/protocol/disco#info query"`
	Features []discoFeature `xml:"http://jabber.org/protocol/disco#info feature"`
	Forms    []struct {
		Fields []struct {
			Var    string   `xml:"var,attr"`
			Values []string `xml:"jabber:x:data value"`
		} `xml:"jabber:x:data field"`
	} `xml:"jabber:x:data x"`
}

// service finds the upload service (the server itself or one of its
// items) and its size limit, once per session.
func (c *Connector) service(ctx context.Context) (uploadService, error) {
	sess, gen, err := c.session()
	if err != nil {
		return uploadService{}, err
	}
	c.uploads.mu.Lock()
	svc := c.uploads.svc
	c.uploads.mu.Unlock()
	if svc.ok && svc.gen == gen {
		return svc, nil
	}
	ctx, cancel := c.linked(ctx)
	defer cancel()
	domain := c.me.Domainpart()
	cands := []string{domain}
	var items discoItems
	if err := c.iq(ctx, sess, "get", domain, struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
	}{}, &items); err == nil {
		for _, it := range items.Items {
			cands = append(cands, it.JID)
		}
	}
	for _, cand := range cands {
		var info discoInfoForms
		if err := c.iq(ctx, sess, "get", cand, struct {
			XMLName xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
		}{}, &info); err != nil {
			continue
		}
		has := false
		for _, f := range info.Features {
			has = has || f.Var == nsUpload
		}
		if !has {
			continue
		}
		svc = uploadService{jid: cand, gen: gen, ok: true}
		for _, form := range info.Forms {
			for _, fl := range form.Fields {
				if fl.Var == "max-file-size" && len(fl.Values) > 0 {
					svc.limit, _ = strconv.ParseInt(strings.TrimSpace(fl.Values[0]), 10, 64)
				}
			}
		}
		c.uploads.mu.Lock()
		c.uploads.svc = svc
		c.uploads.mu.Unlock()
		return svc, nil
	}
	return uploadService{}, fmt.Errorf("%w: %s offers no HTTP File Upload", protocols.ErrUnsupported, domain)
}

// UploadLimit is the upload service's max-file-size from disco.
func (c *Connector) UploadLimit(ctx context.Context) (int64, error) {
	svc, err := c.service(ctx)
	if err != nil {
		return 0, err
	}
	return svc.limit, nil
}

// FileEncryption: where the text goes with OMEMO (a contact, or a room
// with OMEMO) the upload is aesgcm-encrypted; otherwise it is TLS only to
// the server, like the text.
func (c *Connector) FileEncryption(peer protocols.Address) protocols.Encryption {
	return c.PeerEncryption(peer)
}

type slotRequest struct {
	XMLName     xml.Name `xml:"urn:xmpp:http:upload:0 request"`
	Filename    string   `xml:"filename,attr"`
	Size        int64    `xml:"size,attr"`
	ContentType string   `xml:"content-type,attr,omitempty"`
}

type slotReply struct {
	XMLName xml.Name `xml:"urn:xmpp:http:upload:0 slot"`
	Put     struct {
		URL     string `xml:"url,attr"`
		Headers []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:",chardata"`
		} `xml:"urn:xmpp:http:upload:0 header"`
	} `xml:"urn:xmpp:http:upload:0 put"`
	Get struct {
		URL string `xml:"url,attr"`
	} `xml:"urn:xmpp:http:upload:0 get"`
}

// OOB is the XEP-0066 element: the URL of the file.
type OOB struct {
	XMLName xml.Name `xml:"jabber:x:oob x"`
	URL     string   `xml:"url"`
}

// uploadFile sends f to the upload service and returns the URL to send:
// the GET URL, or with encrypt an aesgcm:// URL carrying IV and key.
func (c *Connector) uploadFile(ctx context.Context, sess *mxmpp.Session, f protocols.OutgoingFile, encrypt bool) (string, error) {
	data, err := protocols.ReadOutgoing(f)
	if err != nil {
		return "", err
	}
	svc, err := c.service(ctx)
	if err != nil {
		return "", err
	}
	var key, iv []byte
	ctype := f.MIME
	if encrypt {
		key, iv = make([]byte, 32), make([]byte, 12)
		if _, err := rand.Read(key); err != nil {
			return "", err
		}
		if _, err := rand.Read(iv); err != nil {
			return "", err
		}
		blk, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(blk)
		data = gcm.Seal(nil, iv, data, nil)
		ctype = "application/octet-stream"
	}
	size := int64(len(data))
	if svc.limit > 0 && size > svc.limit {
		return "", &protocols.TooLargeError{Network: protocols.XMPP, Size: size, Limit: svc.limit}
	}
	name := f.Name
	if encrypt {
		name = "file" // the server need not learn the name either
		if i := strings.LastIndexByte(f.Name, '.'); i > 0 && len(f.Name)-i <= 8 {
			name += f.Name[i:]
		}
	}
	ictx, cancel := c.linked(ctx)
	var slot slotReply
	err = c.iq(ictx, sess, "get", svc.jid, slotRequest{Filename: name, Size: size, ContentType: ctype}, &slot)
	cancel()
	if err != nil {
		if strings.Contains(err.Error(), "not-acceptable") || strings.Contains(err.Error(), "file-too-large") {
			return "", &protocols.TooLargeError{Network: protocols.XMPP, Size: size, Limit: svc.limit}
		}
		return "", fmt.Errorf("xmpp: upload slot: %w", err)
	}
	put, err := url.Parse(slot.Put.URL)
	if err != nil || put.Scheme != "https" {
		return "", fmt.Errorf("xmpp: upload slot: PUT URL %q is not https", slot.Put.URL)
	}
	get, err := url.Parse(slot.Get.URL)
	if err != nil || get.Scheme != "https" {
		return "", fmt.Errorf("xmpp: upload slot: GET URL %q is not https", slot.Get.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, put.String(), f.ProgressReader(bytes.NewReader(data)))
	if err != nil {
		return "", err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", ctype)
	for _, h := range slot.Put.Headers {
		switch http.CanonicalHeaderKey(h.Name) {
		case "Authorization", "Cookie", "Expires": // the only ones XEP-0363 allows
			req.Header.Set(h.Name, strings.TrimSpace(h.Value))
		}
	}
	hc, err := c.httpClient()
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("xmpp: upload: %w", err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return "", &protocols.TooLargeError{Network: protocols.XMPP, Size: size, Limit: svc.limit}
	case resp.StatusCode/100 != 2:
		return "", fmt.Errorf("xmpp: upload: the server answered %s", resp.Status)
	}
	if !encrypt {
		return get.String(), nil
	}
	get.Scheme = "aesgcm"
	get.Fragment = hex.EncodeToString(iv) + hex.EncodeToString(key)
	return get.String(), nil
}

// httpClient talks HTTPS to the upload service, trusting what the XMPP
// connection trusts (the system roots plus CAFile).
func (c *Connector) httpClient() (*http.Client, error) {
	tc, err := c.cfg.tlsConfig("")
	if err != nil {
		return nil, err
	}
	tc.ServerName, tc.NextProtos = "", nil
	return &http.Client{Timeout: 10 * time.Minute, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}, nil
}

// fileURL uploads msg.File for a message to to (a contact or a room):
// aesgcm when the message will be OMEMO-encrypted. It returns the URL
// (the body) and whether an OOB element goes with it (only for a plain
// https URL: an aesgcm one travels inside OMEMO alone).
func (c *Connector) fileURL(ctx context.Context, sess *mxmpp.Session, to jid.JID, msg protocols.OutgoingMessage) (string, bool, error) {
	encrypt := c.PeerEncryption(protocols.Address{Network: protocols.XMPP, ID: to.String()}).IsE2EE()
	if !encrypt && msg.MinEncryption >= protocols.EncE2EE {
		return "", false, fmt.Errorf("%w: no OMEMO with %s for the file", protocols.ErrEncryptionUnavailable, to)
	}
	u, err := c.uploadFile(ctx, sess, *msg.File, encrypt)
	return u, !encrypt, err
}
