package spconfigtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"
)

// Server is a fake tenant listening on a TCP address.
type Server struct {
	*Tenant
	// URL is the base URL, e.g. http://127.0.0.1:PORT (no trailing slash):
	// the tenant's baseURL for promotion.yaml.
	URL string
	srv *http.Server
	ln  net.Listener
}

// Start builds a tenant from opts, listens on addr (e.g. "127.0.0.1:0") and
// serves in the background. GET / answers 200 as soon as Start returns.
func Start(addr string, opts Options) (*Server, error) {
	t, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake tenant: listen %s: %w", addr, err)
	}
	s := &Server{Tenant: t, URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.log.Error("fake tenant serve", "err", err)
		}
	}()
	return s, nil
}

// Close stops the server and closes open connections.
func (s *Server) Close() error { return s.srv.Close() }

func sortStrings(s []string) { sort.Strings(s) }

// Shutdown stops accepting requests and waits for running ones, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
