package main

import (
	"vec/control/config"
	"vec/gateway"
)

// gatewayOptions converts the configuration's start-up settings into the
// gateway's options: the one place the two meet, so that the gateway
// imports no control-plane package.
func gatewayOptions(rt config.Runtime) gateway.Options {
	ports := make([]gateway.PortOptions, len(rt.PortOptions))
	for i, p := range rt.PortOptions {
		ports[i] = gateway.PortOptions{MTU: p.MTU, SpreadByDevice: p.SpreadByDevice,
			RxDescriptors: p.RxDescriptors, TxDescriptors: p.TxDescriptors}
	}
	return gateway.Options{EALArgs: rt.EALArgs, VDevs: rt.VDevs, MempoolSize: rt.MempoolSize,
		Ports: rt.Ports, PortOptions: ports, WorkerCores: rt.WorkerCores, ControlCore: rt.ControlCore,
		ControlSharesWorkerCore: rt.ControlSharesWorkerCore, TableCapacity: rt.TableCapacity,
		RunUntilInputExhausted: rt.RunUntilInputExhausted, BusyPoll: rt.BusyPoll, IdleSleep: rt.IdleSleep}
}
