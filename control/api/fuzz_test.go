package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/manager/managertest"
)

// FuzzDecodeRequest feeds arbitrary bodies to the decoder of every request
// type. It must never panic; it must reject with a *requestError or return
// a value that survives a JSON round trip unchanged and that converts to
// the configuration's types (which then validate or not, without
// panicking). The seed corpus is testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(uint8(0), []byte(`{"vip": "10.1.0.200", "services": [{"name": "web", "protocol": "tcp", "port": 80, "servers": [{"name": "b1", "ip": "10.1.0.21", "weight": 1}]}]}`))
	f.Add(uint8(3), []byte(`{"weight": 4, "quiesced": true}`))
	f.Add(uint8(6), []byte(`{"interval": "1s", "proportions": {"active": 50, "new": 50, "advisor": 0, "system": 0}, "smoothing": 2}`))
	f.Add(uint8(7), []byte(`{"name": "web", "service": "10.1.0.100:http", "type": "http", "interval": "1s", "timeout": "200ms", "http": {"path": "/health"}}`))
	f.Add(uint8(8), []byte(`{"name": "night", "service": "10.1.0.100:http", "type": "window", "servers": ["s1"], "from": "22:00", "to": "02:00", "weight": 0}`))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		switch kind % 9 {
		case 0:
			checkApply(t, data, clusterToConfig, manager.AddCluster)
		case 1:
			checkApply(t, data, serviceToConfig, func(cfg *config.Config, sc config.Service) error {
				return manager.AddService(cfg, "10.1.0.100", sc)
			})
		case 2:
			checkDecode[apiwire.Server](t, data, func(s apiwire.Server) {
				cfg := baseConfig(t)
				if err := manager.AddServer(cfg, "10.1.0.100", "http", serverToConfig(s)); err == nil {
					_ = cfg.Validate()
				}
			})
		case 3:
			checkDecode[apiwire.ServerPatch](t, data, func(p apiwire.ServerPatch) {
				cfg := baseConfig(t)
				mp := manager.ServerPatch{Weight: p.Weight, MAC: p.MAC, Quiesced: p.Quiesced}
				if err := manager.UpdateServer(cfg, "10.1.0.100", "http", "s1", mp); err != nil {
					t.Fatalf("patching a known server: %v", err)
				}
				_ = cfg.Validate()
			})
		case 4:
			checkDecode[apiwire.ServicePatch](t, data, func(p apiwire.ServicePatch) {
				mp, err := servicePatchToManager(p)
				if err != nil {
					requireRequestError(t, err)
					return
				}
				cfg := baseConfig(t)
				if err := manager.UpdateService(cfg, "10.1.0.100", "http", mp); err != nil {
					t.Fatalf("patching a known service: %v", err)
				}
				_ = cfg.Validate()
			})
		case 5:
			checkDecode[apiwire.LogLevel](t, data, func(apiwire.LogLevel) {})
		case 6:
			checkDecode[apiwire.ManagerPatch](t, data, func(apiwire.ManagerPatch) {})
		case 7:
			checkApply(t, data, advisorToConfig, advisorList.add)
		case 8:
			checkApply(t, data, ruleToConfig, ruleList.add)
		}
	})
}

// checkApply is checkDecode for a request that converts to the
// configuration's C: the conversion rejects with a *requestError, or its
// result, applied to the base configuration, validates or not without
// panicking.
func checkApply[W, C any](t *testing.T, data []byte, toConfig func(W) (C, error), apply func(*config.Config, C) error) {
	checkDecode(t, data, func(w W) {
		c, err := toConfig(w)
		if err != nil {
			requireRequestError(t, err)
			return
		}
		cfg := baseConfig(t)
		if err := apply(cfg, c); err == nil {
			_ = cfg.Validate()
		}
	})
}

func baseConfig(t *testing.T) *config.Config {
	cfg, err := config.ParseBytes([]byte(managertest.YAML))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func requireRequestError(t *testing.T, err error) {
	t.Helper()
	var re *requestError
	if !errors.As(err, &re) || re.msg == "" {
		t.Fatalf("rejection %T %v, want a *requestError with a message", err, err)
	}
}

func checkDecode[T any](t *testing.T, data []byte, use func(T)) {
	v, err := decodeJSON[T](bytes.NewReader(data))
	if err != nil {
		requireRequestError(t, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("an accepted %T does not encode: %v", v, err)
	}
	back, err := decodeJSON[T](bytes.NewReader(b))
	if err != nil {
		t.Fatalf("an accepted %T, encoded again, is rejected: %v\n%s", v, err, b)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("round trip changed %T:\n%+v\n%+v", v, v, back)
	}
	use(v)
}
