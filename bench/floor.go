package main

// The floor client (issue 18): what any SP-Config client must do and nothing
// more. Get a token, start the job, poll its status at once and then every
// 50 ms until it is done, download the result and decode it into generic values; for an
// import, a multipart POST of the document, poll, download the results. No
// retries, no backoff, no streaming, no validation: the promoter measured
// beside it does all of that and more, so the ratio is an upper bound of
// promoter's own overhead.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"
)

type floorClient struct {
	base, token string
}

func newFloorClient(base string) (*floorClient, error) {
	resp, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"promoter"}, "client_secret": {"promoter-secret"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, fmt.Errorf("floor token: %w", err)
	}
	return &floorClient{base: base, token: t.AccessToken}, nil
}

func (c *floorClient) do(method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+"/v2025/sp-config/"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("floor %s %s: %s: %s", method, path, resp.Status, data)
	}
	return data, nil
}

// job waits for the job and downloads and decodes its result.
func (c *floorClient) job(kind string, started []byte) (any, error) {
	data, err := c.result(kind, started)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("floor decode: %w", err)
	}
	return v, nil
}

// result polls the job at once, then every 50 ms, until it is done, and
// downloads its result.
func (c *floorClient) result(kind string, started []byte) ([]byte, error) {
	var j struct {
		JobID  string `json:"jobId"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(started, &j); err != nil {
		return nil, err
	}
	for first := true; j.Status != "COMPLETE"; first = false {
		if j.Status == "FAILED" || j.Status == "CANCELLED" {
			return nil, fmt.Errorf("floor %s job %s: %s", kind, j.JobID, j.Status)
		}
		if !first { // poll at once, then every 50 ms
			time.Sleep(50 * time.Millisecond)
		}
		data, err := c.do(http.MethodGet, kind+"/"+j.JobID, "", nil)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, err
		}
	}
	return c.do(http.MethodGet, kind+"/"+j.JobID+"/download", "", nil)
}

// export runs an export of the whole tenant and decodes the document.
func (c *floorClient) export() (any, error) {
	started, err := c.do(http.MethodPost, "export", "application/json", []byte(`{"description":"floor"}`))
	if err != nil {
		return nil, err
	}
	return c.job("export", started)
}

// importDoc uploads doc as an import (or a preview) and decodes the results.
func (c *floorClient) importDoc(doc []byte, preview bool) (any, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("data", "import.json")
	if err != nil {
		return nil, err
	}
	part.Write(doc)
	mw.Close()
	started, err := c.do(http.MethodPost, fmt.Sprintf("import?preview=%t", preview), mw.FormDataContentType(), body.Bytes())
	if err != nil {
		return nil, err
	}
	return c.job("import", started)
}

// timeFloor runs fn and returns its wall time.
func timeFloor(fn func() error) (time.Duration, error) {
	t0 := time.Now()
	err := fn()
	return time.Since(t0), err
}
