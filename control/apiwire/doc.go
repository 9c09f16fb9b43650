// Package apiwire defines the JSON bodies of vecd's control API — the
// requests vecctl sends and the replies vecd returns: clusters, services
// and servers, patches, status and changes, counters, connection pages
// with their cursors, the manager's report and settings, the HA status and
// error replies — in the manner of GoBGP's api package.
//
// It imports nothing of vec, so that vecctl (and any other client) links
// these shapes and not the control plane. control/manager, control/api and
// recovery build these values from their own state at the edge; the JSON
// field names are the API's contract (docs/control-api.md).
package apiwire
