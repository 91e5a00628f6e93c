package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// lifecycleSubcommands are the `keys` subcommands of key lifecycle
// management: verify, backup and restore, retirement and destruction, and
// moving a local ring to a new master key.
var lifecycleSubcommands = []string{"verify", "backup", "restore", "retire", "min-version", "destroy", "rewrap"}

const lifecycleUsage = `
  verify      unwrap every version and check the ring's signed metadata;
              exits 1 naming each bad version
  backup      --out FILE: write a self-describing, checksummed backup of the
              ring (wrapped keys and signed metadata, never a plaintext key)
  restore     --from FILE: check a backup and write its ring (to --ring, the
              original or a new path); refuses to overwrite
  retire      VERSION: the version still opens values but never seals again
  min-version VERSION: versions below it stop opening (reversible)
  destroy     VERSION --yes: delete the version's wrapped key for good;
              values under it report "destroyed" (crypto-shredding)
  rewrap      --new-master-key-file FILE | --new-master-key-env VAR: move a
              local ring to a new master key (old values keep opening)`

// runKeysLifecycle runs one lifecycle subcommand for the local provider.
func runKeysLifecycle(sub string, rest []string, stdout, stderr io.Writer) error {
	var k keyFlags
	var asJSON, yes bool
	var out, from, newMKFile, newMKEnv string
	usageLine := "keys " + sub + " [flags]"
	if sub == "retire" || sub == "min-version" || sub == "destroy" {
		usageLine = "keys " + sub + " [flags] VERSION"
	}
	fs := newFlags("keys "+sub, usageLine, "Key lifecycle: "+sub+".", stderr)
	k.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	switch sub {
	case "backup":
		fs.StringVar(&out, "out", "", "backup `FILE` to create (mode 0600; never overwritten)")
	case "restore":
		fs.StringVar(&from, "from", "", "backup `FILE` to restore")
	case "destroy":
		fs.BoolVar(&yes, "yes", false, "confirm: values sealed under the version become unreadable for good")
	case "rewrap":
		fs.StringVar(&newMKFile, "new-master-key-file", "", "`FILE` holding the new base64 master key")
		fs.StringVar(&newMKEnv, "new-master-key-env", "", "environment `VARIABLE` holding the new base64 master key")
	}
	// Accept VERSION before or after the flags.
	var version string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		version, rest = rest[0], rest[1:]
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	if version == "" && fs.NArg() > 0 {
		version = fs.Arg(0)
	}
	keys, err := k.settings(fs)
	if err != nil {
		return err
	}
	if keys.Provider != config.ProviderLocal {
		return fmt.Errorf("keys %s: not yet available for the %s provider", sub, keys.Provider)
	}
	l := keys.Local
	if l.RingFile == "" {
		return errors.New("no ring file: pass --ring FILE or --config FILE")
	}
	var id uint32
	if version != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(version, "v"), 10, 32)
		if err != nil {
			return fmt.Errorf("keys %s: version %q is not a number", sub, version)
		}
		id = uint32(n)
	} else if usageLine != "keys "+sub+" [flags]" {
		fs.Usage()
		return errUsage
	}
	mk, err := localkeys.LoadMasterKey(l.MasterKeyFile, l.MasterKeyEnv)
	if err != nil {
		return err
	}

	var st *localkeys.Status
	switch sub {
	case "verify":
		rep, err := localkeys.Verify(l.RingFile, mk)
		if rep != nil {
			if asJSON {
				_ = writeJSON(stdout, rep)
			} else {
				fmt.Fprintf(stdout, "ring %s (%s, %s)\nmetadata: %s\n", rep.Path, rep.RingID, rep.Format, rep.Metadata)
				for _, v := range rep.Versions {
					line := fmt.Sprintf("v%d\t%s", v.ID, v.State)
					if v.Error != "" {
						line += "\t" + v.Error
					}
					fmt.Fprintln(stdout, line)
				}
			}
		}
		return err
	case "backup":
		if out == "" {
			return errors.New("keys backup: --out FILE is required")
		}
		b, err := localkeys.WriteBackup(l.RingFile, mk, out, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "backup %s: ring %s, versions %v, primary v%d, sha256 %s\n", out, b.RingID, b.Versions, b.Primary, b.SHA256)
		return nil
	case "restore":
		if from == "" {
			return errors.New("keys restore: --from FILE is required")
		}
		st, err = localkeys.RestoreBackup(from, mk, l.RingFile)
	case "retire":
		st, err = localkeys.Retire(l.RingFile, mk, id)
	case "min-version":
		st, err = localkeys.SetMinVersion(l.RingFile, mk, id)
	case "destroy":
		if !yes {
			return fmt.Errorf("keys destroy v%d: values sealed under it become unreadable for good; pass --yes to confirm", id)
		}
		st, err = localkeys.Destroy(l.RingFile, mk, id)
	case "rewrap":
		if newMKFile == "" && newMKEnv == "" {
			return errors.New("keys rewrap: --new-master-key-file or --new-master-key-env is required")
		}
		newMK, mkErr := localkeys.LoadMasterKey(newMKFile, newMKEnv)
		if mkErr != nil {
			return fmt.Errorf("new master key: %w", mkErr)
		}
		st, err = localkeys.Rewrap(l.RingFile, mk, newMK)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, st)
	}
	fmt.Fprintf(stdout, "%s: done\nring %s (%s)\nprimary: v%d\nrevision: %s\n", sub, st.Path, st.RingID, st.Primary, st.Revision)
	return writeVersions(stdout, st.Keys, time.Now())
}
