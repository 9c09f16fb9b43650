// Package api is vecd's control API, the patent's external control
// interface: HTTP/JSON on a Unix socket (and optionally TCP with TLS), every
// request authenticated by a bearer token from the tokens file, with role
// admin (may change everything) or read-only (may only look). It shows and
// changes clusters, services, servers and weights, quiesces servers, lists
// connections page by page, serves counters, status and the log level, and
// saves or reloads the configuration file. docs/control-api.md describes
// every endpoint.
//
// Every change goes through the manager: the whole new configuration is
// validated and applied atomically, and the reply comes only once every
// worker runs it. Errors are JSON, {"error": {"code", "message",
// "problems"}}, with the HTTP status that fits. The request and reply
// bodies are control/apiwire's, which clients import instead of this
// package.
package api
