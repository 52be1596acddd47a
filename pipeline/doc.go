// Package pipeline owns promotion: the configuration (promotion.yaml), the named
// steps export, guard, snapshot, propose, plan, preview, gate, import, verify and
// record, the repository model (offered and applied refs, import records), the
// gate policy and the scheduler. It decides what to promote and whether it is
// safe; it does not speak HTTP to tenants (spconfig), write git objects
// (gitstore) or compare JSON (diff) itself.
package pipeline
