// Command vecctl controls a running vecd through its control API, in the
// manner of ipvsadm and IBM Network Dispatcher's dscontrol:
//
//	vecctl status
//	vecctl cluster add 10.0.0.100 --service http --protocol tcp --port 80 --server name=s1,ip=10.0.0.11,weight=1
//	vecctl server set 10.0.0.100:http:s1 --weight 4
//	vecctl server quiesce 10.0.0.100:http:s1
//	vecctl connections list --vip 10.0.0.100 --state active --limit 50
//	vecctl config save
//
// It talks to vecd's Unix socket (--socket, default /run/vec/vecd.sock) or,
// with --url https://host:port, over TCP with TLS, and sends the bearer
// token read from --token-file. Changes made with vecctl are live at once
// but are not written to vecd's configuration file until `vecctl config
// save`; a reload (SIGHUP, a change of the file, `vecctl config reload`)
// replaces them with the file. --output json prints the API's JSON. The
// bodies are control/apiwire's: vecctl links none of the control plane.
// Each noun's commands have a file of their own (cluster.go, server.go, …).
//
// Exit status: 0 done, 1 vecd refused or failed the request, 2 bad usage,
// 3 vecd cannot be reached or the token is refused.
package main
