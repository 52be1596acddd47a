// Package spconfigtest is a faithful fake SailPoint ISC tenant for the SP-Config
// API: an http.Handler (Tenant) and a server on 127.0.0.1 (Server) that the
// demo, every test and `promoter fake-tenant` use. It owns the fake's object
// store (objects per type with tenant-local ids, matched by spconfig.Key),
// export and import jobs, ES256 signing of RULE and CONNECTOR_RULE objects
// with one key shared by all fake tenants (SignObject, VerifyEntry), reference
// resolution by name on import, partial imports, backups, JWT access tokens
// and their scopes and expiry, rate limiting, fault injection, the admin API
// under /_fake/, an optional state file, the embedded sample tenants, and
// Configuration Hub's uploads, scheduled actions, drafts and deploys. It is
// not a client; the client is package spconfig.
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
// Choices the docs do not settle, made here:
//
//   - Messages: the shape real tenants send, not the schema's: "detail"
//     (singular; null when empty, else {"reference": {type, id, name}}) and
//     "key" null where the service has none; the fake's only keyless message
//     is the reject-object refusal. Preview infos are IMPORT_PREVIEW with
//     detail null, as in SailPoint's published body.
//   - Tokens: RS256 JWTs with ISC's claims (tenant_id, internal, pod
//     "fake01-local", org, identity_id and user_name of the tenant's first
//     identity or "fake.admin", strong_auth, authorities [ORG_ADMIN],
//     client_id, strong_auth_supported, scope as a list, exp, jti), signed
//     with a key made once per process; tenant_id is a UUID derived from the
//     tenant name. A token of another fake tenant is invalid (401). The token
//     response has the fields of the SDKs' AccessToken model, scope
//     space-separated. Credentials may come urlencoded, as multipart/form-data,
//     in the query string or by basic auth.
//   - Scopes (Options.Scopes, default sp:scopes:all): the spec's userAuth
//     lists, so config-objects and everything under export need
//     sp:config:read or sp:config:manage, everything under import
//     sp:config:manage; sp:scopes:all allows all. Order of checks: 401, 429,
//     injected fault, 404, 405, 403.
//   - Injected statuses carry the spec's example bodies where it has one (403,
//     404, 500), else "CODE Status Text".
//   - Ids: job ids are UUIDs; a new object's id is 32 hex digits for the
//     types IdentityNow's older services own (SOURCE, RULE, CONNECTOR_RULE,
//     IDENTITY_PROFILE, ROLE, ACCESS_PROFILE, LIFECYCLE_STATE, ...; identities
//     too), else a UUID, as the samples show. Random by default; Options.IDSeed
//     (--seed-ids) derives them from the seed, the tenant name and a counter.
//     Token jti values stay random so token requests never shift seeded ids.
//   - 400s: import options naming a type outside the 7 importable ones in
//     includeTypes, excludeTypes, objectOptions or defaultReferences; an
//     export body not sent as application/json (or +json). defaultReferences
//     entries may be type names (the schema: an unresolvable reference of
//     that type then resolves by id when the target has that id) or {type,
//     id, name} objects (the spec's example: an unresolvable reference of that
//     type resolves to the named object, by name, else id).
//   - Jobs and their results expire 7 days after creation: status and download
//     answer 404 "... has expired"; the admin API still lists the job.
//     POST /_fake/jobs/{id}/cancel ends a job that is not done CANCELLED
//     (message "The job was cancelled.", no results; 400 when already done).
//
// Configuration Hub (/{ver}/configuration-hub/... under /beta, /v2024, /v2025
// and /v2026; the fragments in ../shared hold only v2025's, and SailPoint's
// SDKs document the same paths for beta and v2024, so the fake serves the
// same bodies under every prefix). Uploads, scheduled actions, drafts and
// deploys share the tenant's objects, identities, clock, job delay, state
// file, token scopes, rate limit and status faults with SP-Config, and answer
// in the same order of checks. Scopes are the spec's userAuth lists:
// sp:config-backup:read|manage (uploads), sp:config-scheduled-action:read|
// manage, sp:config-draft:read|manage, sp:config-deploy:read|manage; the
// manage scope is needed to create or delete; sp:config:* do not reach
// Configuration Hub. Choices the spec and the docs do not settle:
//
//   - Uploads: the multipart parts "data" (an SP-Config export document, file
//     or field) and "name" are required (400 otherwise). A document that is
//     not an export, or holds types outside the 24 of BackupOptions
//     (spconfig.HubTypes(); CONNECTOR_RULE is not among them), is a 400, not a
//     FAILED upload: BackupResponse has no message to say why. At most 10
//     uploads per tenant (SailPoint's guide: "You can upload up to 10
//     configuration files"); the 11th is a 400 saying so until one is
//     deleted. An upload is a BACKUP job, backupType UPLOADED, that goes
//     NOT_STARTED, IN_PROGRESS, COMPLETE with the job delay (fault
//     fail-upload=p ends it FAILED); totalObjectCount and hydrationStatus
//     HYDRATED appear once it is COMPLETE; userCanDelete is true, isPartial
//     false, cloudStorageStatus NOT_SYNCED. Listing filters status eq only.
//   - Scheduled actions: CREATE_DRAFT needs content.sourceBackupId naming a
//     COMPLETE upload of this tenant and content.sourceTenant equal to this
//     tenant's name (the spec calls both required); CONFIG_DEPLOY_DRAFT needs
//     content.draftId; BACKUP needs content.backupOptions and is kept but
//     never runs (the fake has no Configuration Hub backups). An action fires
//     once at startTime (now when absent); cronString and timeZoneId are kept
//     and returned but never repeat it. A fired action stays listed until it
//     is deleted. PATCH supports replace or add of /startTime, /cronString,
//     /timeZoneId and /content/name (a new startTime re-arms the action).
//   - Drafts: a fired CREATE_DRAFT action makes a draft job (NOT_STARTED,
//     IN_PROGRESS, then COMPLETE or FAILED with the job delay), mode UPLOAD,
//     named after the action, approvalStatus DEFAULT. The draft keeps its
//     own copy of the upload, so deleting the upload leaves it deployable.
//     It resolves every reference by name, in the upload and then in the
//     tenant, as an import does (identities, exported types, external
//     names); any unresolved reference fails it with one message naming each
//     object and reference, e.g. `Draft creation failed: ROLE "2 entitlement
//     role": Unable to resolve reference for object [type: IDENTITY, id: ...,
//     name: Imogene Mendez]`. A modified signed RULE fails it too. The spec
//     has no GET /drafts/{id}: that is a 405 (Allow: DELETE); listDrafts
//     filters status eq and approvalStatus eq and answers any other field
//     (sourceBackupId too) with a 400.
//   - Approval: a new draft is DEFAULT, or PENDING_APPROVAL with
//     Options.DraftApproval (a tenant whose drafts need an approver); only
//     the admin API changes it, PUT /_fake/drafts/{id}
//     {"approvalStatus", "comment"} (SetDraftApproval); each change but to
//     DEFAULT adds an approvalComment by the token's identity, DENIED being
//     recorded as changedToStatus REJECTED (the comment schema's word).
//   - Deploys: POST /deploys refuses with a 400 a draft that does not exist
//     (the spec has no 404 there), is not COMPLETE, is PENDING_APPROVAL or is
//     DENIED; DEFAULT and APPROVED deploy. A deploy resolves the references
//     again against the tenant as it is then and applies all the draft's
//     objects or none: each creates or replaces the object of its type and
//     name, an existing object keeping its tenant id (and a source its
//     self.name), a new one getting an id. An unresolved reference,
//     reject-object=TYPE:NAME or fail-deploy=p fails it before anything
//     changes, its message naming the objects. The deploy takes no backup.
//     A COMPLETE deploy's message says how many objects it deployed; fileExists is true once
//     done; cloudStorageStatus NOT_SYNCED.
//   - Not served: /configuration-hub/backups and backups/{id} (tenant
//     backups) and object-mappings; they answer 404.
//   - Admin: GET /_fake/configuration-hub (ConfigurationHub) lists uploads,
//     scheduled actions, drafts and deploys; /_fake/jobs lists SP-Config jobs
//     only; POST /_fake/jobs/{id}/cancel cancels an upload, draft or deploy
//     that is not done too (a cancelled deploy deploys nothing).
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
