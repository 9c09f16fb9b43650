// Package traffic is what vec-backend serves and vec-loadgen checks, shared so
// both sides agree without copying: the deterministic byte stream behind
// /bytes, the header and UDP reply formats that name the answering server,
// and the JSON report vec-loadgen prints (and the e2e tests parse).
package traffic
