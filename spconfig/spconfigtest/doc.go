// Package spconfigtest is a faithful fake SailPoint ISC tenant for the SP-Config
// API: an http.Handler (Tenant) and a server on 127.0.0.1 (Server) that the
// demo, every test and `promoter fake-tenant` use. It owns the fake's object
// store (objects per type with tenant-local ids, matched by spconfig.Key),
// export and import jobs, ES256 signing of RULE and CONNECTOR_RULE objects
// with one key shared by all fake tenants (SignObject, VerifyEntry), reference
// resolution by name on import, backups, token expiry, rate limiting, fault
// injection, the admin API under /_fake/, an optional state file, and the
// embedded sample tenants. It is not a client; the client is package spconfig.
//
// Object bytes are never re-encoded: key order and number literals (10.0)
// come back exactly as seeded or imported. Signed objects are re-signed on
// export, as a real tenant does, so an import may rewrite their ids and
// references. A bare sourceId beside a sourceName (identity profile
// transforms) resolves by that name; other bare ids are left as they are.
// Source-owned references (CONNECTOR_SCHEMA,
// ACCOUNT_CORRELATION_CONFIG) never fail and keep the target source's own.
//
// Imports. A preview reports every error and changes nothing. A real import
// first exports the whole tenant as a backup (unless excludeBackup; also when
// the import then fails), whose job id is the results' exportJobId, and then
// imports the objects one at a time and halts at the first object with an
// error, as a real tenant does: the objects before it stay imported and are
// listed as importedObjects beside the error, the job ends FAILED with
// "Import halted because of errors. Download results for error details.".
// SailPoint does not document the order; the fake imports referenced types
// before the types that refer to them (RULE, CONNECTOR_RULE, SOURCE,
// TRANSFORM, IDENTITY_OBJECT_CONFIG, IDENTITY_PROFILE, TRIGGER_SUBSCRIPTION,
// then types SP-Config cannot import), in document order within a type. The
// fault reject-object=TYPE:NAME makes a real import refuse that object (by name
// or self.name), so a test can produce a partial import on demand; a preview
// does not see it.
//
// Walkthrough (promoter fake-tenant --listen 127.0.0.1:8080 --seed-sample prod):
//
//	URL=http://127.0.0.1:8080
//	TOK=$(curl -s -X POST $URL/oauth/token -d grant_type=client_credentials \
//	      -d client_id=promoter -d client_secret=promoter-secret | jq -r .access_token)
//	JOB=$(curl -s -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
//	      -d '{"includeTypes":["SOURCE"]}' $URL/v2025/sp-config/export | jq -r .jobId)
//	curl -s -H "Authorization: Bearer $TOK" $URL/v2025/sp-config/export/$JOB        # status
//	curl -s -H "Authorization: Bearer $TOK" $URL/v2025/sp-config/export/$JOB/download > export.json
//	curl -s -H "Authorization: Bearer $TOK" -F data=@export.json \
//	      "$URL/v2025/sp-config/import?preview=true"                                   # 202 job
//	curl -s $URL/_fake/jobs; curl -s "$URL/_fake/objects?type=SOURCE"                 # admin API, no token
//	curl -s -X PUT $URL/_fake/faults -d '{"spec":"429=0.3"}'
package spconfigtest
