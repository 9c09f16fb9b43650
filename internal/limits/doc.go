// Package limits holds the bounds and defaults that vecd's configuration
// file and its data plane must agree on: the service timers and weight
// bound filled in where the file leaves them out, the most services and
// servers a gateway holds, the encapsulation defaults, and the port, ring
// and packet-pool sizes. control/config validates against them and fills
// them in; fastpath and gateway size and default with them. It imports
// nothing of vec, so neither side has to import the other or keep a copy.
package limits
