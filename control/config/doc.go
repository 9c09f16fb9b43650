// Package config reads, validates and translates vecd's YAML configuration.
//
// The operator-facing types (Config, Cluster, Service, Server, …) mirror the
// file one to one and carry no behaviour; they are kept apart from the
// fastpath's internal types in the manner of GoBGP's config package, so the
// file format can stay stable and friendly while the internals change.
//
// Reading is strict: the file is decoded with a private viper instance
// (never the process-wide one) and UnmarshalExact, field names must be
// lower-case snake_case, unknown fields and mistyped values are errors, and
// durations need a unit. Validation looks at the whole configuration and
// reports every problem at once, each prefixed by the path of the field it
// concerns, e.g.
//
//	clusters[0].services[1].servers[2].weight: 30 is above weight_bound 20
//
// A configuration that validates can be turned into the typed values the
// daemon needs: Runtime (DPDK, ports, cores, logging) and, once the port's
// MAC address is known, Live (the gateway's addresses, clusters, services
// and servers) with every default made explicit. The package does not
// import the fastpath: control/ids numbers the services and servers and
// translates Live into the fastpath's configuration, the one place that
// knows both.
package config
