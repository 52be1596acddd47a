// Command bench measures promoter on large synthetic tenants (issues 9 and
// 18) and prints tables: the real `promoter export` and `promoter run`
// binaries as child processes (wall time, CPU, peak RSS) against fake tenants
// on 127.0.0.1 with zero job delay, beside the floor client of floor.go (what
// any SP-Config client must do) and `git add -A && git commit` of the same
// files, all measured in one process run; then the API efficiency of job
// polling in simulated time.
//
//	go run ./bench                        # 1,000 and 5,000 objects (under a minute)
//	go run ./bench -sizes 20000,50000
//
// It owns no production code; everything it measures is the shipped binary.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"regexp"

	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

func main() {
	sizes := flag.String("sizes", "1000,5000", "comma-separated object counts (20000,50000 for the issue 18 sizes)")
	keep := flag.Bool("keep", false, "keep the work folder")
	apiOnly := flag.Bool("api-only", false, "run only the simulated-time API efficiency table")
	flag.StringVar(&childLogs, "child-logs", "", "write each promoter child's output (with PROMOTER_LOG_LEVEL=debug in the environment, its requests and steps) to a file in this folder")
	flag.StringVar(&childGODEBUG, "child-godebug", "", "GODEBUG for the promoter children only (gctrace=1 prints each collection to their logs)")
	flag.Parse()
	if childLogs != "" {
		if err := os.MkdirAll(childLogs, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
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

// childLogs and childGODEBUG are the -child-logs and -child-godebug flags.
var childLogs, childGODEBUG string

// children numbers the child logs.
var children int

// child runs a command and reads its rusage.
func child(dir string, env []string, name string, args ...string) (measure, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	promoter := filepath.Base(name) == "promoter"
	if promoter && childGODEBUG != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+childGODEBUG)
	}
	var out bytes.Buffer
	if promoter && childLogs != "" {
		children++
		log := filepath.Join(childLogs, fmt.Sprintf("%03d-promoter-%s.log", children, args[0]))
		defer func() { _ = os.WriteFile(log, out.Bytes(), 0o644) }()
	}
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

// ---- one size ----

type sizeResult struct {
	n                   int
	docBytes            int
	initial, change, no measure // promoter export
	setup, run          measure // promoter run: the first (baseline), the measured one
	// floors (floorClient, best of two, measured beside each promoter step)
	fInitial, fChange, fNo, fRun time.Duration
	// git add -A && git commit, and writing the files it adds first (one
	// writer, as a script or `git checkout` would)
	gInitial, gChange           measure
	gWriteInitial, gWriteChange time.Duration
	sameTree                    [2]bool // promoter's and git's tenant trees are equal
	noCommit                    bool
	filesWritten                int
	steps                       []stepTime // of the measured run, from its log
	imported                    int
	runServerCPU                time.Duration
	runRequests                 map[string]int
	run429                      int
	imports                     [2]int // preview, real import jobs in the measured run
	runOut                      string
}

type stepTime struct {
	name string
	d    time.Duration
}

var stepLog = regexp.MustCompile(`step=([a-z-]+) duration=([0-9.]+[a-zµ]+)`)

// stepsOf reads the step durations from a run's text log.
func stepsOf(out string) []stepTime {
	var st []stepTime
	for _, m := range stepLog.FindAllStringSubmatch(out, -1) {
		if d, err := time.ParseDuration(m[2]); err == nil {
			st = append(st, stepTime{m[1], d})
		}
	}
	return st
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

// bestOf2 runs a floor twice and keeps the faster.
func bestOf2(fn func() error) (time.Duration, error) {
	best := time.Duration(1 << 62)
	for range 2 {
		runtime.GC()
		d, err := timeFloor(fn)
		if err != nil {
			return 0, err
		}
		best = min(best, d)
	}
	return best, nil
}

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
	cdev, err := newFloorClient(fdev.URL)
	if err != nil {
		return nil, err
	}
	cprod, err := newFloorClient(fprod.URL)
	if err != nil {
		return nil, err
	}
	exportDev := func() error { _, err := cdev.export(); return err }
	cfg := filepath.Join(dir, "promotion.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, cfgTemplate, fdev.URL, fprod.URL), 0o644); err != nil {
		return nil, err
	}
	env := []string{"BENCH_CLIENT_ID=promoter", "BENCH_CLIENT_SECRET=promoter-secret", "PROMOTER_LOG_FORMAT=text"}
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
	if res.fInitial, err = bestOf2(exportDev); err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "  initial export")
	if res.initial, err = promoter("export"); err != nil {
		return nil, err
	}
	doc, err := download(fdev)
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

	// 2a. 1% changed
	idx := changedIndexes(n)
	change := func(rev int) ([]spconfig.Entry, error) {
		var out []spconfig.Entry
		for _, i := range idx {
			e, err := spconfig.NewEntry([]byte(dev.entry(i, rev)))
			if err != nil {
				return nil, err
			}
			if err := fdev.PutObject(e); err != nil {
				return nil, fmt.Errorf("change %s: %w", e.Key(), err)
			}
			out = append(out, e)
		}
		return out, nil
	}
	if _, err := change(2); err != nil {
		return nil, err
	}
	if res.fChange, err = bestOf2(exportDev); err != nil {
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
	if doc, err = download(fdev); err != nil {
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
	if res.fNo, err = bestOf2(exportDev); err != nil {
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

	// 3. promoter run. The first takes the baseline of prod and promotes
	// the objects changed in 2a; the measured one promotes 1% changed again.
	fmt.Fprintln(os.Stderr, "  first run: baseline of prod, promotion of the 1% changed in 2a")
	if res.setup, err = promoter("run"); err != nil {
		return nil, err
	}
	changed, err := change(3)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "  run: export, plan, preview, import of 1% changed objects, verify")
	c0, _ := fdev.snapshot()
	p0, _ := fprod.snapshot()
	jobs0 := len(fprod.Jobs())
	cpu0 := selfCPU()
	if res.run, err = promoter("run"); err != nil {
		return nil, err
	}
	res.runServerCPU = selfCPU() - cpu0
	res.steps = stepsOf(res.runOut)
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
	res.imported = len(changed)
	// the floor of the run, after it (importing first would leave promoter
	// nothing to import): export source, export target, preview, import,
	// export target; the same objects are imported again
	payload := (&spconfig.ExportDocument{ExportHeader: spconfig.ExportHeader{Version: 1}, Objects: changed}).Bytes()
	if res.fRun, err = bestOf2(func() error {
		for _, step := range []func() (any, error){
			cdev.export, cprod.export,
			func() (any, error) { return cprod.importDoc(payload, true) },
			func() (any, error) { return cprod.importDoc(payload, false) },
			cprod.export,
		} {
			if _, err := step(); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return res, nil
}

// download returns the current export document of a fake tenant (untimed).
func download(f *fake) ([]byte, error) {
	c, err := newFloorClient(f.URL)
	if err != nil {
		return nil, err
	}
	started, err := c.do(http.MethodPost, "export", "application/json", []byte(`{"description":"bench"}`))
	if err != nil {
		return nil, err
	}
	return c.result("export", started)
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
