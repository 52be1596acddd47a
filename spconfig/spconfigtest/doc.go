// Package spconfigtest is a faithful fake SailPoint ISC tenant for the SP-Config
// API: an http.Handler and a server on 127.0.0.1 that the demo, every test and
// `promoter fake-tenant` use. It owns the fake's object store, jobs, signing,
// reference resolution, rate limiting and fault injection, and the embedded
// sample tenants. It is not a client; the client is package spconfig.
package spconfigtest
