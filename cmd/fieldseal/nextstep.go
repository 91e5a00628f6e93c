package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// withNextStep adds to err, from a `keys` subcommand, the command that
// resolves it where there is one: a missing ring is created by `keys init`,
// a missing master key file by `keys master-key`, and an existing ring is
// inspected with `keys status` rather than created again, and a lookup
// version in the way is moved by `keys rotate-lookup`. The commands
// repeat the flags the user gave, so they can be run as printed.
func withNextStep(err error, sub string, k *keyFlags, keys config.Keys) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, crypto.ErrLookupVersion): // both providers return it
		return fmt.Errorf("%w; with no deterministic class (mode: deterministic) in the field map `fieldseal keys rotate-lookup %s` is harmless: there is nothing to re-seal", err, k.where(keys, false))
	case errors.Is(err, localkeys.ErrNoMasterKey):
		ringExists := keys.Local.RingFile != "" && !missing(keys.Local.RingFile)
		switch {
		case k.configFile == "" && (ringExists || sub != "init"):
			return fmt.Errorf("%w; pass --config FILE to use the master key its keys.local section names, or give the master key the ring was made with (--master-key-file FILE or FIELDSEAL_MASTER_KEY): a new master key cannot open an existing ring", err)
		case ringExists || sub != "init":
			return fmt.Errorf("%w; give the master key the ring was made with: a new master key cannot open an existing ring", err)
		default:
			return fmt.Errorf("%w; generate one with `(umask 077; fieldseal keys master-key > master.key)` and pass --master-key-file master.key", err)
		}
	case sub == "backup" && errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w; give each backup its own name, e.g. --out ring-$(date +%%Y%%m%%dT%%H%%M%%S).json", err)
	case errors.Is(err, localkeys.ErrRingExists), errors.Is(err, awskeys.ErrRingExists):
		if sub == "init" {
			return fmt.Errorf("%w; `fieldseal keys status %s` shows it, and `keys init --if-absent` leaves an existing ring alone", err, k.where(keys, false))
		}
	case keys.Provider == config.ProviderAWS:
		if errors.Is(err, awskeys.ErrNotFound) && sub != "init" && sub != "restore" {
			return fmt.Errorf("%w; if the secret does not exist yet, create the ring with `fieldseal keys init %s` (else check the KMS key id and the region)", err, k.where(keys, true))
		}
	case sub != "status" && errors.Is(err, fs.ErrNotExist) && keys.Local.MasterKeyFile != "" && missing(keys.Local.MasterKeyFile):
		return fmt.Errorf("%w; create the master key with `(umask 077; mkdir -p %s && fieldseal keys master-key > %s)`", err, filepath.Dir(keys.Local.MasterKeyFile), keys.Local.MasterKeyFile)
	case errors.Is(err, fs.ErrNotExist) && keys.Local.RingFile != "" && missing(keys.Local.RingFile) && sub != "init" && sub != "restore":
		return fmt.Errorf("%w; create the ring with `fieldseal keys init %s`", err, k.where(keys, true))
	}
	return err
}

// missing reports whether path does not exist.
func missing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// where renders the flags that name the ring the user gave: --config FILE
// when a config was given, else the provider's own flags (with the master
// key's when create is set, since creating a ring needs it).
func (k *keyFlags) where(keys config.Keys, create bool) string {
	if k.configFile != "" {
		return "--config " + k.configFile
	}
	var f []string
	if keys.Provider == config.ProviderAWS {
		f = append(f, "--provider aws")
		if create {
			f = append(f, "--kms-key-id "+orPlaceholder(keys.AWS.KMSKeyID, "KEY"))
		}
		f = append(f, "--secret-id "+orPlaceholder(keys.AWS.SecretID, "NAME"))
		if keys.AWS.Region != "" {
			f = append(f, "--region "+keys.AWS.Region)
		}
		return strings.Join(f, " ")
	}
	f = append(f, "--ring "+keys.Local.RingFile)
	if create {
		switch {
		case keys.Local.MasterKeyFile != "":
			f = append(f, "--master-key-file "+keys.Local.MasterKeyFile)
		case keys.Local.MasterKeyEnv != "":
			f = append(f, "--master-key-env "+keys.Local.MasterKeyEnv)
		}
	}
	return strings.Join(f, " ")
}

func orPlaceholder(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return v
}
