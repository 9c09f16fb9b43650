package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"vec/control/apiwire"
	"vec/control/config"
)

// MaxRequestBody bounds a request body: a whole cluster with hundreds of
// servers fits many times over.
const MaxRequestBody = 1 << 20

// requestError is a request the API cannot read: HTTP 400.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// decodeJSON reads exactly one JSON value of type T from r, refusing
// unknown fields, trailing data and bodies over MaxRequestBody.
func decodeJSON[T any](r io.Reader) (T, error) {
	var v T
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestBody+1))
	if err != nil {
		return v, badRequest("reading the request body: %v", err)
	}
	if len(data) > MaxRequestBody {
		return v, badRequest("the request body is larger than %d bytes", MaxRequestBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return v, badRequest("the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, badRequest("request body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, badRequest("request body: more than one JSON value")
	}
	return v, nil
}

// decodePatch decodes a patch (see decodeJSON), refusing one that changes
// nothing; fields names what it may change.
func decodePatch[P comparable](r io.Reader, fields string) (P, error) {
	p, err := decodeJSON[P](r)
	if err == nil && p == *new(P) {
		err = badRequest("the patch changes nothing: give %s", fields)
	}
	return p, err
}

// decodeConverted decodes a request body as a W (see decodeJSON) and
// converts it to the configuration's or the manager's type.
func decodeConverted[W, C any](r io.Reader, convert func(W) (C, error)) (C, error) {
	w, err := decodeJSON[W](r)
	if err != nil {
		var zero C
		return zero, err
	}
	return convert(w)
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	return err.Error()
}

// duration parses an optional duration field ("" = 0 = the default).
func duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, badRequest("%s: %q is not a duration (write e.g. 90s or 15m)", field, s)
	}
	return d, nil
}

// clusterToConfig converts a cluster from the API to the configuration's types.
func clusterToConfig(c apiwire.Cluster) (config.Cluster, error) {
	out := config.Cluster{VIP: c.VIP, AnswerPing: c.AnswerPing}
	for i, s := range c.Services {
		sc, err := serviceToConfig(s)
		if err != nil {
			return config.Cluster{}, badRequest("services[%d].%v", i, err)
		}
		out.Services = append(out.Services, sc)
	}
	return out, nil
}

func serviceToConfig(s apiwire.Service) (config.Service, error) {
	out := config.Service{Name: s.Name, Protocol: s.Protocol, Port: s.Port, Disabled: s.Disabled,
		Forwarding: s.Forwarding, GUEPort: s.GUEPort}
	var err error
	if out.StaleTimeout, err = duration("stale_timeout", s.StaleTimeout); err != nil {
		return out, err
	}
	if out.FinTimeout, err = duration("fin_timeout", s.FinTimeout); err != nil {
		return out, err
	}
	if out.SynTimeout, err = duration("syn_timeout", s.SynTimeout); err != nil {
		return out, err
	}
	if out.ResetTimeout, err = duration("reset_timeout", s.ResetTimeout); err != nil {
		return out, err
	}
	if out.DrainTimeout, err = duration("drain_timeout", s.DrainTimeout); err != nil {
		return out, err
	}
	if s.WeightBound != nil {
		b := *s.WeightBound
		out.WeightBound = &b
	}
	for _, sv := range s.Servers {
		out.Servers = append(out.Servers, serverToConfig(sv))
	}
	return out, nil
}

func serverToConfig(s apiwire.Server) config.Server {
	out := config.Server{Name: s.Name, IP: s.IP, MAC: s.MAC, Quiesced: s.Quiesced, Fixed: s.Fixed}
	if s.Weight != nil {
		w := *s.Weight
		out.Weight = &w
	}
	return out
}

func fromConfigCluster(c config.Cluster) apiwire.Cluster {
	out := apiwire.Cluster{VIP: c.VIP, AnswerPing: c.AnswerPing, Services: []apiwire.Service{}}
	for _, s := range c.Services {
		out.Services = append(out.Services, fromConfigService(s))
	}
	return out
}

func fromConfigService(s config.Service) apiwire.Service {
	out := apiwire.Service{Name: s.Name, Protocol: s.Protocol, Port: s.Port, Disabled: s.Disabled,
		WeightBound: s.WeightBound, Forwarding: s.Forwarding, GUEPort: s.GUEPort, Servers: []apiwire.Server{}}
	if s.StaleTimeout != 0 {
		out.StaleTimeout = s.StaleTimeout.String()
	}
	if s.FinTimeout != 0 {
		out.FinTimeout = s.FinTimeout.String()
	}
	if s.SynTimeout != 0 {
		out.SynTimeout = s.SynTimeout.String()
	}
	if s.ResetTimeout != 0 {
		out.ResetTimeout = s.ResetTimeout.String()
	}
	if s.DrainTimeout != 0 {
		out.DrainTimeout = s.DrainTimeout.String()
	}
	for _, sv := range s.Servers {
		out.Servers = append(out.Servers, apiwire.Server{Name: sv.Name, IP: sv.IP, MAC: sv.MAC, Weight: sv.Weight, Quiesced: sv.Quiesced, Fixed: sv.Fixed})
	}
	return out
}
