package gitstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshGitServer is an SSH server on 127.0.0.1 that lets one user ("git") with
// one public key run the real git-upload-pack and git-receive-pack on one
// bare repository, like a git host does.
type sshGitServer struct {
	addr    string // 127.0.0.1:PORT
	hostKey ssh.PublicKey
	bare    string // the only repository served

	rejected atomic.Int32 // public keys or users refused
	mu       sync.Mutex
	execs    []string // git commands run, e.g. "git-receive-pack"
}

// sshConnDeadline bounds every connection so a stuck client or server fails
// the test instead of hanging it.
const sshConnDeadline = 30 * time.Second

func newEd25519Signer(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// writeSSHKey writes priv as an OpenSSH private key file (0600) and returns
// its path and contents.
func writeSSHKey(t testing.TB, dir, name string, priv ed25519.PrivateKey) (string, []byte) {
	t.Helper()
	blk, err := ssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(blk)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// writeKnownHosts writes a known_hosts file trusting key for addr.
func writeKnownHosts(t testing.TB, dir, name, addr string, key ssh.PublicKey) string {
	t.Helper()
	p := filepath.Join(dir, name)
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func startSSHGitServer(t testing.TB, bare string, allowed ssh.PublicKey) *sshGitServer {
	t.Helper()
	host, _ := newEd25519Signer(t)
	s := &sshGitServer{hostKey: host.PublicKey(), bare: bare}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if meta.User() == "git" && bytes.Equal(key.Marshal(), allowed.Marshal()) {
				return &ssh.Permissions{}, nil
			}
			s.rejected.Add(1)
			return nil, fmt.Errorf("user %s key %s not allowed", meta.User(), ssh.FingerprintSHA256(key))
		},
	}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	home := t.TempDir()
	var wg sync.WaitGroup
	var cmu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns[c] = true
			cmu.Unlock()
			wg.Go(func() {
				defer func() {
					cmu.Lock()
					delete(conns, c)
					cmu.Unlock()
					c.Close()
				}()
				c.SetDeadline(time.Now().Add(sshConnDeadline))
				s.serveConn(c, cfg, home, &wg)
			})
		}
	})
	return s
}

func (s *sshGitServer) serveConn(c net.Conn, cfg *ssh.ServerConfig, home string, wg *sync.WaitGroup) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		wg.Go(func() { s.serveSession(ch, creqs, home, wg) })
	}
}

// serveSession runs the first exec request's git command with the channel
// as its stdin, stdout and stderr, then sends its exit status.
func (s *sshGitServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, home string, wg *sync.WaitGroup) {
	started := false
	for req := range reqs {
		if req.Type != "exec" || started {
			req.Reply(false, nil)
			continue
		}
		var p struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &p); err != nil {
			req.Reply(false, nil)
			continue
		}
		started = true
		req.Reply(true, nil)
		wg.Go(func() { s.runGit(ch, p.Command, home) })
	}
}

func (s *sshGitServer) runGit(ch ssh.Channel, command, home string) {
	defer ch.Close()
	exit := func(code uint32) {
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
	}
	verb, quoted, _ := strings.Cut(command, " ")
	path, ok := strings.CutPrefix(quoted, "'")
	path, ok2 := strings.CutSuffix(path, "'")
	if !ok || !ok2 || strings.Contains(path, "'") || (verb != "git-upload-pack" && verb != "git-receive-pack") || path != s.bare {
		fmt.Fprintf(ch.Stderr(), "fatal: command not allowed: %q\n", command)
		exit(128)
		return
	}
	s.mu.Lock()
	s.execs = append(s.execs, verb)
	s.mu.Unlock()
	cmd := exec.Command("git", strings.TrimPrefix(verb, "git-"), path)
	cmd.Env = append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1")
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		exit(128)
		return
	}
	// not waited for by cmd.Wait: the client may keep its side open until
	// it sees the exit status; closing the channel ends this copy.
	go func() {
		io.Copy(stdin, ch)
		stdin.Close()
	}()
	var code uint32
	if err := cmd.Wait(); err != nil {
		code = 1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			code = uint32(ee.ExitCode())
		}
	}
	exit(code)
}

func (s *sshGitServer) ran() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.execs)
}

// sshFixture is a bare repository served over SSH with key auth, a trusted
// host key and a client key file.
type sshFixture struct {
	srv      *sshGitServer
	bare     string
	url      string
	keyFile  string
	secrets  [][]byte // private key material that must never appear in errors
	otherKey ed25519.PrivateKey
}

func newSSHFixture(t *testing.T) *sshFixture {
	t.Helper()
	needGit(t)
	keys := t.TempDir()
	bare := filepath.Join(t.TempDir(), "bare.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	client, priv := newEd25519Signer(t)
	_, other := newEd25519Signer(t)
	f := &sshFixture{bare: bare, otherKey: other}
	f.srv = startSSHGitServer(t, bare, client.PublicKey())
	var pemData []byte
	f.keyFile, pemData = writeSSHKey(t, keys, "id_ed25519", priv)
	f.secrets = [][]byte{pemData, priv.Seed(), []byte(base64.StdEncoding.EncodeToString(priv.Seed())), []byte("PRIVATE KEY")}
	blk, _ := pem.Decode(pemData)
	f.secrets = append(f.secrets, []byte(base64.StdEncoding.EncodeToString(blk.Bytes)[:64]))
	t.Setenv("SSH_KNOWN_HOSTS", writeKnownHosts(t, keys, "known_hosts", f.srv.addr, f.srv.hostKey))
	f.url = "ssh://git@" + f.srv.addr + bare
	return f
}

// git runs the git CLI on the bare repository: git --git-dir bare args...
func (f *sshFixture) git(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir", f.bare}, args...)...)
	cmd.Env = gitEnv(t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git --git-dir %s %s: %v\n%s", f.bare, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func sshTestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), sshConnDeadline)
	t.Cleanup(cancel)
	return ctx
}

// TestSSHKeyAuthPushFetch clones an empty repository over SSH with a key
// file, commits and pushes, checks what arrived with the git CLI, and syncs
// it into a second clone.
func TestSSHKeyAuthPushFetch(t *testing.T) {
	f := newSSHFixture(t)
	ctx := sshTestContext(t)
	c := &clock{t: time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC)}
	opts := func(name string) Options {
		return Options{Path: filepath.Join(t.TempDir(), name), Remote: f.url, SSHKeyFile: f.keyFile, Now: c.now}
	}

	a, err := Open(ctx, opts("a"))
	if err != nil {
		t.Fatalf("clone over ssh: %v", err)
	}
	if got := f.srv.ran(); !slices.Contains(got, "git-upload-pack") {
		t.Fatalf("clone of the empty remote ran %v over ssh, want git-upload-pack", got)
	}
	file := "tenants/dev/SOURCE/Active Directory.json"
	h1, err := a.Commit(ctx, CommitSpec{Message: "over ssh", Changes: []Change{{Path: file, Content: []byte("{\"v\": 1}\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	hold, err := a.CommitRef(ctx, "refs/promoter/hold/p", "hold p\n", []Change{{Path: "hold.json", Content: []byte("{}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRef("refs/promoter/offered/p", h1, Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx); err != nil {
		t.Fatalf("push over ssh: %v", err)
	}
	if got := f.srv.ran(); !slices.Contains(got, "git-receive-pack") {
		t.Fatalf("push ran %v over ssh, want git-receive-pack", got)
	}

	// what arrived, seen by the git CLI
	if got, want := f.git(t, "log", "--format=%H %s", "main"), h1.String()+" over ssh\n"; got != want {
		t.Errorf("git log main on the remote = %q, want %q", got, want)
	}
	gotRefs := f.git(t, "for-each-ref", "--format=%(objectname) %(refname)", "refs/promoter/")
	wantRefs := hold.String() + " refs/promoter/hold/p\n" + h1.String() + " refs/promoter/offered/p\n"
	if gotRefs != wantRefs {
		t.Errorf("remote refs/promoter/*:\n%s\nwant:\n%s", gotRefs, wantRefs)
	}
	if got := f.git(t, "show", "main:"+file); got != "{\"v\": 1}\n" {
		t.Errorf("remote %s = %q", file, got)
	}
	f.git(t, "fsck", "--strict", "--no-dangling")

	// a second clone sees everything, then syncs a later push
	b, err := Open(ctx, opts("b"))
	if err != nil {
		t.Fatalf("second clone over ssh: %v", err)
	}
	for ref, want := range map[string]Hash{"refs/heads/main": h1, "refs/promoter/offered/p": h1, "refs/promoter/hold/p": hold} {
		if got, err := b.Ref(ref); err != nil || got != want {
			t.Errorf("second clone %s = %s, %v; want %s", ref, got, err, want)
		}
	}
	h2, err := a.Commit(ctx, CommitSpec{Message: "second", Changes: []Change{{Path: file, Content: []byte("{\"v\": 2}\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx); err != nil {
		t.Fatalf("second push over ssh: %v", err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("sync over ssh: %v", err)
	}
	if got := mustHead(t, b); got != h2 {
		t.Errorf("second clone head after sync = %s, want %s", got, h2)
	}
	if data, err := os.ReadFile(filepath.Join(b.Path(), filepath.FromSlash(file))); err != nil || string(data) != "{\"v\": 2}\n" {
		t.Errorf("second clone's %s after sync = %q, %v", file, data, err)
	}
	clean(t, b.Path())
	fsck(t, b.Path())
	if n := f.srv.rejected.Load(); n != 0 {
		t.Errorf("server refused %d keys with only the right key in use", n)
	}
}

// TestSSHRefused checks that a wrong key, a key file that holds no private
// key and a server whose host key differs from known_hosts are refused for
// clone and push, with an error that says why and holds no key material,
// and that nothing reaches the remote.
func TestSSHRefused(t *testing.T) {
	f := newSSHFixture(t)
	ctx := sshTestContext(t)
	dir := t.TempDir()
	wrongKey, wrongPEM := writeSSHKey(t, dir, "id_wrong", f.otherKey)
	pubOnly := filepath.Join(dir, "id_ed25519.pub")
	if err := os.WriteFile(pubOnly, ssh.MarshalAuthorizedKey(f.srv.hostKey), 0o600); err != nil {
		t.Fatal(err)
	}
	impostor, _ := newEd25519Signer(t)
	otherHosts := writeKnownHosts(t, dir, "other_known_hosts", f.srv.addr, impostor.PublicKey())
	unknownHost := writeKnownHosts(t, dir, "unknown_known_hosts", "127.0.0.2:22", f.srv.hostKey)
	secrets := append(slices.Clone(f.secrets), wrongPEM, f.otherKey.Seed())

	// a clone made with the right key, to push from with the wrong settings
	good, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "good"), Remote: f.url, SSHKeyFile: f.keyFile})
	if err != nil {
		t.Fatalf("clone over ssh: %v", err)
	}
	goodPath := good.Path()

	tests := []struct {
		name       string
		keyFile    string
		knownHosts string // SSH_KNOWN_HOSTS; "" keeps the fixture's
		want       string // in the error
		refused    bool   // the server saw and refused the key
	}{
		{name: "wrong key", keyFile: wrongKey, want: "unable to authenticate", refused: true},
		{name: "not a private key", keyFile: pubOnly, want: "ssh key " + pubOnly},
		{name: "missing key file", keyFile: filepath.Join(dir, "absent"), want: "ssh key " + filepath.Join(dir, "absent")},
		{name: "host key mismatch", keyFile: f.keyFile, knownHosts: otherHosts, want: "knownhosts: key mismatch"},
		{name: "host not in known_hosts", keyFile: f.keyFile, knownHosts: unknownHost, want: "knownhosts: key is unknown"},
		{name: "no known_hosts file", keyFile: f.keyFile, knownHosts: filepath.Join(dir, "absent_known_hosts"), want: "known_hosts"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.knownHosts != "" {
				t.Setenv("SSH_KNOWN_HOSTS", tc.knownHosts)
			}
			before := f.git(t, "for-each-ref")
			refusedBefore := f.srv.rejected.Load()
			ranBefore := len(f.srv.ran())
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s succeeded", op)
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.want) {
					t.Errorf("%s error = %q, want it to contain %q", op, msg, tc.want)
				}
				for _, s := range secrets {
					if bytes.Contains([]byte(msg), s) {
						t.Errorf("%s error leaks private key material %q: %s", op, s, msg)
					}
				}
			}

			_, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "clone"), Remote: f.url, SSHKeyFile: tc.keyFile})
			check("clone", err)

			// an existing clone opened with these settings (no fetch on
			// open) commits locally but cannot push
			r, err := Open(ctx, Options{Path: goodPath, Remote: f.url, SSHKeyFile: tc.keyFile})
			if err != nil {
				t.Fatalf("reopen the clone: %v", err)
			}
			if _, err := r.Commit(ctx, CommitSpec{Message: "refused " + tc.name, Changes: []Change{{Path: fmt.Sprintf("f%d.json", i), Content: []byte("{}\n")}}}); err != nil {
				t.Fatal(err)
			}
			check("push", r.Push(ctx))

			if after := f.git(t, "for-each-ref"); after != before {
				t.Errorf("remote refs changed by a refused push:\n%s\nwas:\n%s", after, before)
			}
			if got := f.srv.ran()[ranBefore:]; len(got) != 0 {
				t.Errorf("server ran %v for a refused client", got)
			}
			if refused := f.srv.rejected.Load() > refusedBefore; refused != tc.refused {
				t.Errorf("server refused a key: %v, want %v", refused, tc.refused)
			}
		})
	}
}
