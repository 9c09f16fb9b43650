// Package wire defines the agent protocol's messages, shared by the agent
// (which encodes them) and agent/client (which decodes and checks them): the
// shadow-table entries with their states, the paged connections request and
// reply, the metrics reply, the witness lease request and reply, and the
// protocol's size limits. docs/agent.md describes the protocol as a whole.
package wire
