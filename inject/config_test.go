package inject

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"a minimal config gets every default", "image: fieldseal:1\n", ""},
		{"an unknown key is an error", "image: fieldseal:1\nlistenPrt: 9000\n", `unknown field "listenPrt"`},
		{"a missing image is an error", "listenPort: 9000\n", "image is required"},
		{"an unknown provider is an error", "image: x\nkeys: {provider: vault}\n", `keys.provider "vault"`},
		{"equal ports are an error", "image: x\nlistenPort: 9000\nadminPort: 9000\n", "must differ"},
		{"a port out of range is an error", "image: x\nadminPort: 70000\n", "adminPort 70000 is not a port number"},
		{"a bad pull policy is an error", "image: x\nimagePullPolicy: Sometimes\n", `imagePullPolicy "Sometimes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "injector.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.ListenPort != DefaultListenPort || cfg.AdminPort != DefaultAdminPort || cfg.UpstreamPort != DefaultUpstreamPort ||
					cfg.ConfigMap != DefaultConfigMap || cfg.Keys.Provider != ProviderLocal || cfg.Keys.LocalSecret != DefaultLocalSecret {
					t.Errorf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "unknown field") && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("validation error %v is not ErrInvalidConfig", err)
			}
		})
	}
}
