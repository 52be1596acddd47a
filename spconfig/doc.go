// Package spconfig is promoter's client for SailPoint ISC's SP-Config API and the
// home of the document models every other package shares: export documents,
// object entries (kept as the exact bytes the tenant sent), import options and
// results, and job status.
//
// It owns authentication (OAuth2 client credentials), retries, rate limiting and
// the job polling loop. It does not know about git, files on disk, diffs or
// promotion policy: those live in gitstore, diff and pipeline.
package spconfig
