// Package testconfig writes the parts of vecd configurations (YAML) that
// many tests share, so that a test's own text states only what it is
// about: the cluster most tests balance to, and its usual servers.
package testconfig
