package main

// crashEnv names the test hook that makes the process stop itself at a named
// point of a run. It exists only so the reliability tests
// (reliability_test.go) can prove that a crash or a signal at any step
// boundary loses nothing; it is not a feature and users never set it. When
// the variable is unset (always, outside the tests) nothing is installed, and
// only a binary built with the tag crashtest has the hook at all (crash.go).
//
// Values:
//
//	after:STEP          SIGKILL right after the named step ends (export, guard,
//	                    snapshot, propose, plan, preview, gate, import, verify,
//	                    record, resume)
//	import-started      SIGKILL once a real import job was accepted and its
//	                    in-flight marker written, before it is polled
//	git:STEP            SIGKILL the first time the repository passes the named
//	                    internal step (gitstore's hit: index-locked,
//	                    objects-written, journal-written, ref-moved,
//	                    worktree-file, worktree-written, ref-locked:REF
//	                    while REF's lock file is held, ref-set:REF right
//	                    after REF moved, ...)
//	term:after:STEP     SIGTERM instead of SIGKILL, then wait until the run's
//	term:import-started context has seen it, so the run goes on exactly as
//	                    it would after an operator's SIGTERM at that point
const crashEnv = "PROMOTER_TEST_CRASH"
