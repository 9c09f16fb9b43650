// Package deploy holds the tests of vec's deployment artefacts: the Debian
// packages (make deb, packaging/), the systemd units (configs/*.service)
// and the container image's recipe (Dockerfile, scripts/build-image-root.sh),
// built, installed and run for real on the test machine. It has no code of
// its own; docs/deployment.md describes what the tests check.
//
// The tests need root (dpkg -i, chroot, mmdebstrap): without it they fail
// under CI=true and skip elsewhere.
package deploy
