package apiwire

// DefaultConnLimit is the page size of GET /v1/connections without
// limit=; MaxConnLimit bounds one page.
const (
	DefaultConnLimit = 100
	MaxConnLimit     = 1000
)

// Connection is one connection entry, named.
type Connection struct {
	Core      int     `json:"core"`
	Client    string  `json:"client"`
	VIP       string  `json:"vip"`
	Proto     string  `json:"protocol"`
	Port      uint16  `json:"port"`
	Service   string  `json:"service"`
	Server    string  `json:"server"`
	ServerIP  string  `json:"server_ip"`
	State     string  `json:"state"`
	IdleSec   float64 `json:"idle_s"`
	ServiceID uint16  `json:"service_id"`
	ServerID  uint16  `json:"server_id"`
}

// Connections is a page of connections (GET /v1/connections). A page may
// hold fewer than Limit connections, even none, while More is set: each
// worker examines a bounded part of its table per request.
type Connections struct {
	Limit int  `json:"limit"`
	More  bool `json:"more"`
	// NextCursor is the cursor of the next page (opaque, passed back as
	// cursor=), empty when the listing is done.
	NextCursor  string       `json:"next_cursor"`
	Connections []Connection `json:"connections"`
}
