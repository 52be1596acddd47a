package spconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// WaitOptions controls how a job is polled.
type WaitOptions struct {
	// Timeout bounds the whole wait (default 30m). When it passes the wait
	// returns a *TimeoutError; the job keeps running in the tenant.
	Timeout time.Duration
	// MinInterval is the first pause between polls (default 1s); each pause
	// grows by half up to MaxInterval (default 15s) or, once the job has run
	// longer, up to a fifth of the time already waited. So a job is seen
	// done at most MaxInterval or 20% after it finished, and polls grow
	// logarithmically with its duration (a 10-minute job takes about 20,
	// not 45), never more than one per MinInterval.
	MinInterval, MaxInterval time.Duration
	// OnPoll, when set, sees every status polled.
	OnPoll func(Job)
}

func (o WaitOptions) withDefaults() WaitOptions {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.MinInterval <= 0 {
		o.MinInterval = time.Second
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = 15 * time.Second
	}
	if o.MaxInterval < o.MinInterval {
		o.MaxInterval = o.MinInterval
	}
	return o
}

// WaitExport polls export job id until it is done. COMPLETE returns the job;
// FAILED or CANCELLED return it with a *JobError; the timeout returns a
// *TimeoutError (which unwraps to context.DeadlineExceeded).
func (c *Client) WaitExport(ctx context.Context, id string, o WaitOptions) (Job, error) {
	return c.wait(ctx, JobExport, id, o, c.ExportStatus)
}

// WaitImport polls import job id until it is done, like WaitExport. It does
// not download results; Import and ResumeImport do.
func (c *Client) WaitImport(ctx context.Context, id string, o WaitOptions) (Job, error) {
	return c.wait(ctx, JobImport, id, o, c.ImportStatus)
}

// pollShare bounds a pause past MaxInterval to 1/pollShare of the time
// already waited: how late a long job may be seen done, as a share.
const pollShare = 5

// wait is the one polling loop: poll at once, then after pauses growing from
// MinInterval to MaxInterval, then with the time waited (see WaitOptions),
// never past the deadline.
func (c *Client) wait(ctx context.Context, kind, id string, o WaitOptions, status func(context.Context, string) (Job, error)) (Job, error) {
	o = o.withDefaults()
	start := c.now()
	deadline := start.Add(o.Timeout)
	interval := o.MinInterval
	lkind := strings.ToLower(kind)
	// A poll that gets no answer does not outlast the wait: the timeout
	// bounds every attempt and retry of it (in real time; c.now may be a
	// test's clock).
	pctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var job Job
	for polls := 1; ; polls++ {
		j, err := status(pctx, id)
		if err != nil && ctx.Err() == nil && pctx.Err() != nil {
			return job, &TimeoutError{JobID: id, Type: kind, Timeout: o.Timeout, Last: job}
		}
		if err != nil {
			return job, fmt.Errorf("wait for %s job %s: %w", lkind, id, err)
		}
		job = j
		if job.Type == "" {
			job.Type = kind
		}
		if o.OnPoll != nil {
			o.OnPoll(job)
		}
		switch job.Status {
		case StatusComplete:
			c.log.Debug("spconfig job done", "type", kind, "job", id, "polls", polls, "elapsed", c.now().Sub(start))
			return job, nil
		case StatusFailed, StatusCancelled:
			c.log.Warn("spconfig job ended", "type", kind, "job", id, "status", job.Status, "message", job.Message)
			return job, &JobError{Job: job}
		}
		now := c.now()
		left := deadline.Sub(now)
		if left <= 0 {
			return job, &TimeoutError{JobID: id, Type: kind, Timeout: o.Timeout, Last: job}
		}
		if err := c.sleep(ctx, min(interval, left)); err != nil {
			return job, fmt.Errorf("wait for %s job %s (last status %s): %w", lkind, id, job.Status, err)
		}
		interval = min(interval+interval/2, max(o.MaxInterval, c.now().Sub(start)/pollShare))
	}
}

// Export starts an export, waits for it and streams its download to fn. The
// returned job is the last status seen, also on error.
func (c *Client) Export(ctx context.Context, p ExportPayload, o WaitOptions, fn func(i int, e Entry) error) (Job, ExportHeader, error) {
	// The start and its retries stay within the job's timeout.
	sctx, cancel := context.WithTimeout(ctx, o.withDefaults().Timeout)
	job, err := c.StartExport(sctx, p)
	cancel()
	if err != nil {
		return job, ExportHeader{}, err
	}
	c.log.Info("spconfig export started", "job", job.JobID)
	job, err = c.WaitExport(ctx, job.JobID, o)
	if err != nil {
		return job, ExportHeader{}, err
	}
	h, err := c.DownloadExport(ctx, job.JobID, fn)
	return job, h, err
}

// Import starts an import of data (preview or real), calls started with the
// accepted job before polling (so the caller can record its id and resume
// after a crash; an error from started is returned as is, the job keeps
// running), waits for it and downloads its results. A FAILED or CANCELLED
// import returns the results it has together with the *JobError.
func (c *Client) Import(ctx context.Context, data []byte, opts *ImportOptions, preview bool, o WaitOptions, started func(Job) error) (Job, *ImportResults, error) {
	// The start and its retries (429 and 503 only) stay within the job's
	// timeout.
	sctx, cancel := context.WithTimeout(ctx, o.withDefaults().Timeout)
	job, err := c.StartImport(sctx, data, opts, preview)
	cancel()
	if err != nil {
		return job, nil, err
	}
	c.log.Info("spconfig import started", "job", job.JobID, "preview", preview)
	if started != nil {
		if err := started(job); err != nil {
			return job, nil, err
		}
	}
	return c.ResumeImport(ctx, job.JobID, o)
}

// ResumeImport waits for a known import job and downloads its results, like
// the second half of Import.
func (c *Client) ResumeImport(ctx context.Context, id string, o WaitOptions) (Job, *ImportResults, error) {
	job, err := c.WaitImport(ctx, id, o)
	var je *JobError
	switch {
	case err == nil:
	case errors.As(err, &je):
		res, derr := c.DownloadImport(ctx, id)
		if derr != nil {
			c.log.Warn("spconfig results of a failed import not available", "job", id, "err", derr.Error())
			return job, nil, err
		}
		je.Results = res
		return job, res, je
	default:
		return job, nil, err
	}
	res, err := c.DownloadImport(ctx, id)
	if err != nil {
		return job, nil, err
	}
	return job, res, nil
}
