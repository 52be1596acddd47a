// Command bench measures promoter on large synthetic tenants (issue 9) and
// prints tables: the real `promoter export` and `promoter run` binaries as
// child processes (wall time, CPU, peak RSS from rusage) against fake tenants
// on 127.0.0.1 with zero job delay, beside `git add -A && git commit` of the
// same files and beside the floor of reading and JSON-decoding the same
// export document; then the API efficiency of job polling in simulated time.
//
//	go run ./bench                        # 1,000 and 10,000 objects
//	go run ./bench -sizes 1000,10000,50000
//
// It owns no production code; everything it measures is the shipped binary.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

func main() {
	sizes := flag.String("sizes", "1000,10000", "comma-separated object counts (add 50000 for the large case)")
	keep := flag.Bool("keep", false, "keep the work folder")
	apiOnly := flag.Bool("api-only", false, "run only the simulated-time API efficiency table")
	flag.Parse()
	if err := run(*sizes, *keep, *apiOnly); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(sizes string, keep, apiOnly bool) error {
	printMachine()
	if !apiOnly {
		work, err := os.MkdirTemp("", "promoter-bench-")
		if err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(work)
		} else {
			fmt.Fprintln(os.Stderr, "work folder:", work)
		}
		bin := filepath.Join(work, "promoter")
		fmt.Fprintln(os.Stderr, "building ./cmd/promoter ...")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/promoter").CombinedOutput(); err != nil {
			return fmt.Errorf("build ./cmd/promoter (run from the repository root): %v\n%s", err, out)
		}
		var results []*sizeResult
		for _, f := range strings.Split(sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 100 {
				return fmt.Errorf("-sizes: %q is not a count of at least 100", f)
			}
			res, err := benchSize(bin, filepath.Join(work, strconv.Itoa(n)), n)
			if err != nil {
				return fmt.Errorf("%d objects: %w", n, err)
			}
			results = append(results, res)
			if !keep {
				os.RemoveAll(filepath.Join(work, strconv.Itoa(n)))
			}
		}
		printTables(results)
	}
	return apiEfficiency(os.Stdout)
}

func printMachine() {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	gitv, _ := exec.Command("git", "--version").Output()
	fmt.Printf("machine: %s, %d cores, %s %s/%s, %s\n\n", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(gitv)))
}

// ---- measurements of child processes ----

type measure struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	rssKB  int64         // peak resident set of the largest process
	failed bool
}

func (m measure) add(o measure) measure {
	return measure{wall: m.wall + o.wall, cpu: m.cpu + o.cpu, rssKB: max(m.rssKB, o.rssKB), failed: m.failed || o.failed}
}

// child runs a command and reads its rusage.
func child(dir string, env []string, name string, args ...string) (measure, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Start()
	var hwm int64
	if err == nil {
		done := make(chan struct{})
		polled := make(chan struct{})
		go func() { // peak RSS of the child's own image, see peakRSS
			defer close(polled)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				if v := peakRSS(cmd.Process.Pid); v > hwm {
					hwm = v
				}
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
		err = cmd.Wait()
		close(done)
		<-polled
	}
	m := measure{wall: time.Since(t0), rssKB: hwm}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	m.failed = err != nil
	return m, out.String(), err
}

// peakRSS reads VmHWM (kB) of a running process. rusage's ru_maxrss cannot
// be used for children of this process: Go starts them with vfork
// (CLONE_VM), and Linux records the high-water mark of the memory image an
// exec replaces, here the bench's own (the fake tenants hold every object),
// as the child's ru_maxrss. VmHWM belongs to the child's image after exec; it
// is sampled every 5 ms, so growth in a child's last 5 ms can be missed.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func gitAddCommit(dir, msg string) (measure, error) {
	a, out, err := child(dir, nil, "git", "add", "-A")
	if err != nil {
		return a, fmt.Errorf("git add -A: %v: %s", err, out)
	}
	c, out, err := child(dir, nil, "git", "commit", "-q", "-m", msg)
	if err != nil && !strings.Contains(out, "nothing to commit") {
		return a.add(c), fmt.Errorf("git commit: %v: %s", err, out)
	}
	return a.add(c), nil
}

func gitOut(dir string, args ...string) string {
	out, _ := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

// ---- fake tenants with request counting ----

type fake struct {
	*spconfigtest.Tenant
	URL string
	srv *http.Server

	mu     sync.Mutex
	counts map[string]int // by operation
	n429   int
}

func startFake(opts spconfigtest.Options) (*fake, error) {
	t, err := spconfigtest.New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fake{Tenant: t, URL: "http://" + ln.Addr().String(), counts: map[string]int{}}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, code: 200}
		t.ServeHTTP(rec, r)
		f.count(r, rec.code)
	})}
	go f.srv.Serve(ln)
	return f, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(c int) { s.code = c; s.ResponseWriter.WriteHeader(c) }

// opOf classifies an API request.
func opOf(method, p string) string {
	switch {
	case p == "/oauth/token":
		return "token"
	case strings.HasPrefix(p, "/_fake/") || p == "/":
		return "admin"
	case strings.HasSuffix(p, "/download"):
		return "download"
	case method == http.MethodPost && strings.HasSuffix(p, "/export"):
		return "start-export"
	case method == http.MethodPost && strings.HasSuffix(p, "/import"):
		return "start-import"
	case strings.Contains(p, "/export/") || strings.Contains(p, "/import/"):
		return "status"
	}
	return "other"
}

func (f *fake) count(r *http.Request, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := opOf(r.Method, r.URL.Path)
	if op == "admin" {
		return
	}
	f.counts[op]++
	if code == http.StatusTooManyRequests {
		f.n429++
	}
}

func (f *fake) snapshot() (map[string]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := map[string]int{}
	for k, v := range f.counts {
		c[k] = v
	}
	return c, f.n429
}

func (f *fake) close() { f.srv.Close() }

// ---- the floor: read and JSON-decode the export document once ----

// floor exports every object of the tenant (untimed), then times downloading
// the finished job's document over 127.0.0.1 and decoding it with
// encoding/json into generic values. It returns the best of three and the
// document.
func floor(f *fake) (time.Duration, []byte, error) {
	c, err := spconfig.New(spconfig.Config{BaseURL: f.URL, ClientID: "promoter", ClientSecret: "promoter-secret", RateLimit: 1000})
	if err != nil {
		return 0, nil, err
	}
	ctx := context.Background()
	job, err := c.StartExport(ctx, spconfig.ExportPayload{Description: "bench floor"})
	if err != nil {
		return 0, nil, err
	}
	if _, err := c.WaitExport(ctx, job.JobID, spconfig.WaitOptions{MinInterval: time.Millisecond}); err != nil {
		return 0, nil, err
	}
	tok, err := token(f.URL)
	if err != nil {
		return 0, nil, err
	}
	best := time.Duration(1 << 62)
	var doc []byte
	for range 3 {
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodGet, f.URL+"/v2025/sp-config/export/"+url.PathEscape(job.JobID)+"/download", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, nil, err
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return 0, nil, fmt.Errorf("floor decode: %w", err)
		}
		best = min(best, time.Since(t0))
		doc = data
	}
	return best, doc, nil
}

func token(base string) (string, error) {
	resp, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"promoter"}, "client_secret": {"promoter-secret"}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// ---- one size ----

type sizeResult struct {
	n                   int
	docBytes            int
	initial, change, no measure // promoter export
	gInitial, gChange   measure // git add -A && git commit
	gNo                 measure
	// writing the object files for git (timed apart: promoter writes its
	// working files itself, the git CLI finds them written)
	gWriteInitial, gWriteChange time.Duration
	fInitial, fChange           time.Duration // floors
	fNo                         time.Duration
	sameTree                    [2]bool // promoter's and git's tenant trees are equal
	noCommit                    bool
	filesWritten                int
	run                         measure
	runServerCPU                time.Duration
	runRequests                 map[string]int
	run429                      int
	imports                     [2]int // preview, real import jobs in the measured run
	runOut                      string
}

const cfgTemplate = `repo:
  path: ./repo
tenants:
  dev:
    baseURL: %s
    clientIDEnv: BENCH_CLIENT_ID
    clientSecretEnv: BENCH_CLIENT_SECRET
  prod:
    baseURL: %s
    clientIDEnv: BENCH_CLIENT_ID
    clientSecretEnv: BENCH_CLIENT_SECRET
pipelines:
  - name: bench
    source: dev
    target: prod
    mode: auto
    gate:
      maxChanges: -1
      allowWarnings: [".*"]
`

func benchSize(bin, dir string, n int) (*sizeResult, error) {
	fmt.Fprintf(os.Stderr, "== %d objects\n", n)
	res := &sizeResult{n: n}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dev, prod := synth{n: n, tenant: "dev"}, synth{n: n, tenant: "prod"}
	fdev, err := startFake(spconfigtest.Options{Seed: dev.document(), Identities: dev.identities(), TenantName: "dev"})
	if err != nil {
		return nil, err
	}
	defer fdev.close()
	fprod, err := startFake(spconfigtest.Options{Seed: prod.document(), Identities: prod.identities(), TenantName: "prod"})
	if err != nil {
		return nil, err
	}
	defer fprod.close()
	cfg := filepath.Join(dir, "promotion.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, cfgTemplate, fdev.URL, fprod.URL), 0o644); err != nil {
		return nil, err
	}
	env := []string{"BENCH_CLIENT_ID=promoter", "BENCH_CLIENT_SECRET=promoter-secret"}
	repo := filepath.Join(dir, "repo")
	cli := filepath.Join(dir, "cli")
	promoter := func(args ...string) (measure, error) {
		runtime.GC()
		m, out, err := child(dir, env, bin, append(args, "--config", cfg)...)
		if err != nil {
			return m, fmt.Errorf("promoter %s: %v\n%s", args[0], err, tail(out))
		}
		res.runOut = out
		return m, nil
	}

	// 1. initial snapshot
	if res.fInitial, _, err = floor(fdev); err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "  initial export")
	if res.initial, err = promoter("export"); err != nil {
		return nil, err
	}
	_, doc, err := floor(fdev)
	if err != nil {
		return nil, err
	}
	res.docBytes = len(doc)
	if out, err := exec.Command("git", "init", "-q", "-b", "main", cli).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init: %v %s", err, out)
	}
	files, err := tenantFiles(doc)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := writeFiles(filepath.Join(cli, "tenants", "dev"), files, nil); err != nil {
		return nil, err
	}
	res.gWriteInitial = time.Since(t0)
	if res.gInitial, err = gitAddCommit(cli, "initial"); err != nil {
		return nil, err
	}
	res.sameTree[0] = gitOut(repo, "rev-parse", "HEAD:tenants/dev") == gitOut(cli, "rev-parse", "HEAD:tenants/dev")

	// setup with the git CLI, as after a first promotion: tenants/prod holds
	// what tenants/dev holds and the pipeline's offered ref points there
	fmt.Fprintln(os.Stderr, "  setup: tenants/prod = tenants/dev, offered ref (git CLI)")
	for _, args := range [][]string{
		{"read-tree", "--prefix=tenants/prod/", "HEAD:tenants/dev"},
		{"commit", "-q", "-m", "setup: promote everything"},
		{"checkout", "--", "tenants/prod"},
		{"update-ref", "refs/promoter/offered/bench", "HEAD"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("setup git %s: %v %s", args[0], err, out)
		}
	}

	// 2a. 1% changed
	idx := changedIndexes(n)
	for _, i := range idx {
		e, err := spconfig.NewEntry([]byte(dev.entry(i, 2)))
		if err != nil {
			return nil, err
		}
		if err := fdev.PutObject(e); err != nil {
			return nil, fmt.Errorf("change %s: %w", e.Key(), err)
		}
	}
	if res.fChange, _, err = floor(fdev); err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "  re-export, 1% changed")
	before := gitOut(repo, "rev-parse", "HEAD")
	if res.change, err = promoter("export"); err != nil {
		return nil, err
	}
	if gitOut(repo, "rev-parse", "HEAD") == before {
		return nil, errors.New("re-export with 1% changed made no commit")
	}
	_, doc, err = floor(fdev)
	if err != nil {
		return nil, err
	}
	files2, err := tenantFiles(doc)
	if err != nil {
		return nil, err
	}
	changedNames := map[string]bool{}
	for _, i := range idx {
		changedNames[dev.id(typeOf(i), i)] = true
	}
	t0 = time.Now()
	if err := writeFiles(filepath.Join(cli, "tenants", "dev"), files2, changedNames); err != nil {
		return nil, err
	}
	res.gWriteChange = time.Since(t0)
	if res.gChange, err = gitAddCommit(cli, "1% changed"); err != nil {
		return nil, err
	}
	res.sameTree[1] = gitOut(repo, "rev-parse", "HEAD:tenants/dev") == gitOut(cli, "rev-parse", "HEAD:tenants/dev")

	// 2b. nothing changed
	if res.fNo, _, err = floor(fdev); err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "  re-export, nothing changed")
	before = gitOut(repo, "rev-parse", "HEAD")
	mark := time.Now()
	time.Sleep(20 * time.Millisecond) // mtime granularity
	if res.no, err = promoter("export"); err != nil {
		return nil, err
	}
	res.noCommit = gitOut(repo, "rev-parse", "HEAD") == before
	res.filesWritten = writtenSince(repo, mark)
	if res.gNo, err = gitAddCommit(cli, "nothing"); err != nil {
		return nil, err
	}

	// 3. promoter run: plan, preview and import of the 1% changed objects
	fmt.Fprintln(os.Stderr, "  run: plan, preview, import of 1% changed objects")
	c0, _ := fdev.snapshot()
	p0, _ := fprod.snapshot()
	jobs0 := len(fprod.Jobs())
	cpu0 := selfCPU()
	if res.run, err = promoter("run"); err != nil {
		return nil, err
	}
	res.runServerCPU = selfCPU() - cpu0
	c1, d429 := fdev.snapshot()
	p1, p429 := fprod.snapshot()
	res.run429 = d429 + p429
	res.runRequests = map[string]int{}
	for k, v := range c1 {
		res.runRequests[k] += v - c0[k]
	}
	for k, v := range p1 {
		res.runRequests[k] += v - p0[k]
	}
	for _, j := range fprod.Jobs()[jobs0:] {
		if j.Type == spconfig.JobImport {
			if j.Preview {
				res.imports[0]++
			} else {
				res.imports[1]++
			}
		}
	}
	if !strings.Contains(res.runOut, "imported") {
		return nil, fmt.Errorf("the measured run did not import:\n%s", tail(res.runOut))
	}
	return res, nil
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type file struct {
	rel  string
	id   string
	data []byte
}

// tenantFiles turns an export document into the object files promoter writes.
func tenantFiles(doc []byte) ([]file, error) {
	d, err := spconfig.ReadExport(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	names, err := gitstore.FileNames(d.Objects)
	if err != nil {
		return nil, err
	}
	out := make([]file, len(names))
	for i, e := range d.Objects {
		out[i] = file{rel: names[i], id: e.Self.ID, data: gitstore.EncodeFile(e)}
	}
	return out, nil
}

// writeFiles writes the files under dir; with only set, just the objects
// whose ids it holds (the changed ones).
func writeFiles(dir string, files []file, only map[string]bool) error {
	for _, f := range files {
		if only != nil && !only[f.id] {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writtenSince counts files below root (the .git folder included) modified
// after t.
func writtenSince(root string, t time.Time) int {
	n := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().After(t) {
			if filepath.Base(p) == "promoter.lock" {
				return nil // the process lock is taken by every run; it holds no data
			}
			n++
			fmt.Fprintln(os.Stderr, "  written:", p)
		}
		return nil
	})
	return n
}
