package api

import "vec/control/apiwire"

// The request and reply bodies are control/apiwire's, which clients such
// as vecctl import without this package; these names keep the handlers'
// and tests' spelling.
type (
	Cluster      = apiwire.Cluster
	Service      = apiwire.Service
	Server       = apiwire.Server
	ServiceRow   = apiwire.ServiceRow
	ServicePatch = apiwire.ServicePatch
	ServerPatch  = apiwire.ServerPatch
	LogLevel     = apiwire.LogLevel
	ConfigReply  = apiwire.ConfigReply
	SaveReply    = apiwire.SaveReply
	ErrorBody    = apiwire.ErrorBody
	ErrorDetail  = apiwire.ErrorDetail
	Problem      = apiwire.Problem
	Proportions  = apiwire.Proportions
	ManagerPatch = apiwire.ManagerPatch
	Advisor      = apiwire.Advisor
	AdvisorHTTP  = apiwire.AdvisorHTTP
	AdvisorUDP   = apiwire.AdvisorUDP
	Rule         = apiwire.Rule
)

// DefaultConnLimit is the page size of GET /v1/connections without limit=.
const DefaultConnLimit = apiwire.DefaultConnLimit
