// Package testcert makes self-signed TLS certificates for tests of the
// control API's TCP listener.
package testcert
