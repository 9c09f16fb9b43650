// Package secretfile reads files that hold secrets (the agent's keys, the
// gateways' heartbeat key, vecd's API tokens) after checking, on the open
// descriptor, that nobody but the process's user (or root) can read or
// change them: the file must be a regular file owned by root or by the
// process's effective uid, and neither its group nor others, nor any other
// user or group named in a POSIX ACL, may read or write it.
//
// The check is made with fstat and fgetxattr on the descriptor the content
// is then read from, so a file swapped in after the check is never read; it
// is opened with O_NONBLOCK so a FIFO put in its place cannot hang a start.
package secretfile
