// Package repotest holds the repository's rules as a test: rules_test.go
// parses every Go file of the module and fails on a file that breaks one
// of docs/TEAM-RULES.md's mechanical rules — unsafe only in *_unsafe.go
// files, cgo only under dpdk/, one package comment per package, and
// the CI variable read only by internal/testenv. The package has no code
// of its own.
package repotest
