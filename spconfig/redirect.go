package spconfig

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// redirectError is a redirect that would take a request to another scheme or
// host. Go's client follows a 307 or 308 with the same body, so the token
// request's client secret (and an import's payload) would go there; the
// Authorization header it drops only for other domains. It is never retried.
type redirectError struct {
	from, to string // scheme://host only: a query may hold anything
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("refused a redirect from %s to %s: it would send the request, with the client secret or the token, to another host or scheme; point baseURL and tokenURL at the tenant's API host", e.from, e.to)
}

// guardRedirects returns a copy of hc that refuses redirects to another
// scheme or host than the first request's, then applies hc's own policy
// (by default at most 10 redirects).
func guardRedirects(hc *http.Client) *http.Client {
	g := *hc
	next := hc.CheckRedirect
	g.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
			return &redirectError{from: first.Scheme + "://" + first.Host, to: req.URL.Scheme + "://" + req.URL.Host}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &g
}
