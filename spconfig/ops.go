package spconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// maxJSONBody bounds the JSON bodies decoded in memory (job status, config
// objects, import results). Export downloads are streamed and unbounded.
const maxJSONBody = 256 << 20

// ConfigObjects lists the object types the tenant's SP-Config service knows,
// with their capabilities (GET /sp-config/config-objects).
func (c *Client) ConfigObjects(ctx context.Context) ([]ConfigObject, error) {
	var out []ConfigObject
	err := c.getJSON(ctx, opConfigObjects, "/config-objects", &out)
	return out, err
}

// StartExport starts an export job (POST /sp-config/export) and returns it as
// accepted. Type names are checked first: one unknown type fails the whole job
// in the tenant. Unlike an import it is retried like a GET (429, 5xx, a
// transport error): a second export job changes nothing in the tenant.
func (c *Client) StartExport(ctx context.Context, p ExportPayload) (Job, error) {
	if err := checkTypes("export payload", p.IncludeTypes, p.ExcludeTypes, p.ObjectOptions, Exportable, "exportable"); err != nil {
		return Job{}, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return Job{}, fmt.Errorf("spconfig %s: encode payload: %w", opExport, err)
	}
	return c.startJob(ctx, call{
		op: opExport, method: http.MethodPost, path: "/export",
		contentType: "application/json", body: bytesBody(body), policy: retryIdempotent,
	}, JobExport)
}

// ExportStatus returns the status of export job id (GET /sp-config/export/{id}).
func (c *Client) ExportStatus(ctx context.Context, id string) (Job, error) {
	return c.jobStatus(ctx, opExportStatus, "/export/", id)
}

// downloadRestarts bounds how many times DownloadExport downloads an export
// again after the connection was cut mid-body.
const downloadRestarts = 2

// DownloadExport downloads the results of COMPLETE export job id
// (GET /sp-config/export/{id}/download) and stream-decodes them with
// DecodeExport, calling fn for each entry; entries keep the tenant's bytes.
// A download cut mid-body (the connection reset, fewer bytes than announced)
// is downloaded again from the start, at most downloadRestarts times: the
// entries fn has already seen are skipped, after checking that they are the
// same bytes, so fn sees every entry once. A document that is complete but
// malformed, or an error from fn, is not retried.
func (c *Client) DownloadExport(ctx context.Context, id string, fn func(i int, e Entry) error) (ExportHeader, error) {
	if err := checkID(opExportDownload, id); err != nil {
		return ExportHeader{}, err
	}
	seen := 0 // entries fn was given
	// seenSum hashes their bytes, to check a restart against: with a seed
	// of this call's, so the tenant cannot aim at a collision, and through
	// hash/maphash, which costs the download almost nothing (sha256 of every
	// entry cost about 40 ms per 72 MB export).
	seed := maphash.MakeSeed()
	var seenSum maphash.Hash
	seenSum.SetSeed(seed)
	for attempt := 0; ; attempt++ {
		h, cut, err := c.downloadExportOnce(ctx, id, &seen, &seenSum, seed, fn)
		if err == nil || !cut || ctx.Err() != nil || attempt >= downloadRestarts {
			if err != nil && cut {
				err = fmt.Errorf("%w (the download was cut %d time(s); start the run again)", err, attempt+1)
			}
			return h, err
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "spconfig export download cut, downloading again",
			slog.String("job", id), slog.Int("entries", seen), slog.Int("attempt", attempt+1), errAttr(err))
	}
}

// downloadExportOnce is one download of DownloadExport. cut reports that the
// body ended with a read error (not a clean end): a restart may succeed.
func (c *Client) downloadExportOnce(ctx context.Context, id string, seen *int, seenSum *maphash.Hash, seed maphash.Seed, fn func(i int, e Entry) error) (h ExportHeader, cut bool, err error) {
	resp, err := c.do(ctx, call{op: opExportDownload, method: http.MethodGet, path: "/export/" + url.PathEscape(id) + "/download"})
	if err != nil {
		return ExportHeader{}, false, err
	}
	defer resp.Body.Close()
	body := &readErrReader{r: resp.Body}
	var again maphash.Hash // the bytes of the first *seen entries of this download
	again.SetSeed(seed)
	var fnErr error
	n := 0
	h, err = DecodeExport(body, func(i int, e Entry) error {
		n = i + 1
		if i < *seen {
			again.Write(e.Raw)
			if i == *seen-1 && again.Sum64() != seenSum.Sum64() {
				return fmt.Errorf("the export's first %d entries differ from the previous download", *seen)
			}
			return nil
		}
		*seen = i + 1
		seenSum.Write(e.Raw)
		if err := fn(i, e); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return h, false, fmt.Errorf("spconfig %s export job %s: %w", opExportDownload, id, context.Cause(ctx))
		}
		return h, body.err != nil && fnErr == nil, fmt.Errorf("spconfig %s export job %s: %w", opExportDownload, id, err)
	}
	if n < *seen {
		return h, false, fmt.Errorf("spconfig %s export job %s: the download has %d entries, the previous one was cut after %d", opExportDownload, id, n, *seen)
	}
	return h, false, nil
}

// readErrReader remembers a read error other than the end of the body.
type readErrReader struct {
	r   io.Reader
	err error
}

func (r *readErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// StartImport starts an import job (POST /sp-config/import?preview=...) with
// data, an export document, as the multipart file part "data" and opts, when
// not nil, as the part "options". It is retried only when the tenant certainly
// refused it (429, 503, or a 401 answered by one token refresh), so it never
// starts a second import.
func (c *Client) StartImport(ctx context.Context, data []byte, opts *ImportOptions, preview bool) (Job, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Job{}, fmt.Errorf("spconfig %s: the import document is empty", opImport)
	}
	if opts != nil {
		if err := checkTypes("import options", opts.IncludeTypes, opts.ExcludeTypes, opts.ObjectOptions, Importable, "importable"); err != nil {
			return Job{}, err
		}
		for _, t := range opts.DefaultReferences {
			if !Importable(t) {
				return Job{}, fmt.Errorf("spconfig import options: defaultReferences: %q is not an importable type (importable: %s)", t, strings.Join(importableTypes, ", "))
			}
		}
	}
	body, contentType, err := multipartImport(data, opts)
	if err != nil {
		return Job{}, fmt.Errorf("spconfig %s: %w", opImport, err)
	}
	return c.startJob(ctx, call{
		op: opImport, method: http.MethodPost, path: "/import",
		query:       url.Values{"preview": {strconv.FormatBool(preview)}},
		contentType: contentType, body: body, policy: retryRefused,
	}, JobImport)
}

// ImportStatus returns the status of import job id (GET /sp-config/import/{id}).
func (c *Client) ImportStatus(ctx context.Context, id string) (Job, error) {
	return c.jobStatus(ctx, opImportStatus, "/import/", id)
}

// DownloadImport downloads the results of import job id
// (GET /sp-config/import/{id}/download).
func (c *Client) DownloadImport(ctx context.Context, id string) (*ImportResults, error) {
	if err := checkID(opImportDownload, id); err != nil {
		return nil, err
	}
	var r ImportResults
	if err := c.getJSON(ctx, opImportDownload, "/import/"+url.PathEscape(id)+"/download", &r); err != nil {
		return nil, err
	}
	if r.Results == nil {
		r.Results = map[string]ObjectImportResult{}
	}
	return &r, nil
}

func (c *Client) jobStatus(ctx context.Context, op, path, id string) (Job, error) {
	if err := checkID(op, id); err != nil {
		return Job{}, err
	}
	var j Job
	if err := c.getJSON(ctx, op, path+url.PathEscape(id), &j); err != nil {
		return Job{}, err
	}
	if j.JobID == "" {
		j.JobID = id
	}
	return j, nil
}

func (c *Client) startJob(ctx context.Context, cl call, kind string) (Job, error) {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return Job{}, err
	}
	defer resp.Body.Close()
	var j Job
	if err := decodeJSON(resp.Body, &j); err != nil {
		return Job{}, fmt.Errorf("spconfig %s: the tenant accepted the job (status %d) but its answer is not a job: %w; check the tenant's %s jobs", cl.op, resp.StatusCode, err, strings.ToLower(kind))
	}
	if j.JobID == "" {
		return Job{}, fmt.Errorf("spconfig %s: the tenant accepted the job (status %d) without a job id; check the tenant's %s jobs", cl.op, resp.StatusCode, strings.ToLower(kind))
	}
	if j.Type == "" {
		j.Type = kind
	}
	return j, nil
}

func (c *Client) getJSON(ctx context.Context, op, path string, out any) error {
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := decodeJSON(resp.Body, out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("spconfig %s %s: %w", op, path, context.Cause(ctx))
		}
		return fmt.Errorf("spconfig %s %s: decode answer: %w", op, path, err)
	}
	return nil
}

func decodeJSON(r io.Reader, out any) error {
	dec := json.NewDecoder(io.LimitReader(r, maxJSONBody))
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body")
		}
		return err
	}
	return nil
}

func checkID(op, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("spconfig %s: the job id is empty", op)
	}
	return nil
}

func checkTypes(what string, include, exclude []string, objOpts map[string]ObjectOptions, ok func(string) bool, adj string) error {
	var list []string
	if adj == "exportable" {
		list = exportableTypes
	} else {
		list = importableTypes
	}
	check := func(field, t string) error {
		if !ok(t) {
			return fmt.Errorf("spconfig %s: %s: %q is not an %s type: use one of %s", what, field, t, adj, strings.Join(list, ", "))
		}
		return nil
	}
	for _, t := range include {
		if err := check("includeTypes", t); err != nil {
			return err
		}
	}
	for _, t := range exclude {
		if err := check("excludeTypes", t); err != nil {
			return err
		}
	}
	for t := range objOpts {
		if err := check("objectOptions", t); err != nil {
			return err
		}
	}
	return nil
}

// multipartImport returns the multipart/form-data body of an import: the file
// part "data" (import.json, application/json) holding data unchanged, then,
// when opts is not nil, the part "options" holding opts as JSON.
func multipartImport(data []byte, opts *ImportOptions) (func() (io.Reader, int64), string, error) {
	var fields []formField
	if opts != nil {
		o, err := json.Marshal(opts)
		if err != nil {
			return nil, "", fmt.Errorf("encode import options: %w", err)
		}
		fields = append(fields, formField{name: "options", contentType: "application/json", value: o})
	}
	return multipartFile("data", "import.json", data, fields...)
}

// formField is a multipart part after the file part.
type formField struct {
	name        string
	contentType string // "" sends a plain form field
	value       []byte
}

// multipartFile returns a multipart/form-data body of the file part field
// (filename, application/json) holding data unchanged, then the given
// fields. data is not copied: each body reader streams the prefix, data and
// the suffix.
func multipartFile(field, filename string, data []byte, fields ...formField) (func() (io.Reader, int64), string, error) {
	var head, tail bytes.Buffer
	sw := &switchWriter{w: &head}
	mw := multipart.NewWriter(sw)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
	h.Set("Content-Type", "application/json")
	if _, err := mw.CreatePart(h); err != nil {
		return nil, "", err
	}
	sw.w = &tail
	for _, f := range fields {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, f.name))
		if f.contentType != "" {
			h.Set("Content-Type", f.contentType)
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := pw.Write(f.value); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	hb, tb := head.Bytes(), tail.Bytes()
	n := int64(len(hb) + len(data) + len(tb))
	body := func() (io.Reader, int64) {
		return io.MultiReader(bytes.NewReader(hb), bytes.NewReader(data), bytes.NewReader(tb)), n
	}
	return body, mw.FormDataContentType(), nil
}

// switchWriter lets multipartImport direct the writer's output to different
// buffers around the data part.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }
