// Package control is the home of vec's control plane, the "manager" of the
// patent: everything that decides what the fastpath serves without touching a
// packet itself.
//
// The control plane never writes a worker core's memory; it builds complete
// configuration snapshots (and later weights and recovered connection
// entries) and hands them to the fastpath as messages. Its sub-packages:
//
//   - config: the operator's YAML configuration — schema, parsing, whole-file
//     validation and translation into the fastpath's internal types.
package control
