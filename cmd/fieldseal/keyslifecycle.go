package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
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
  restore     --from FILE: check a backup and write its ring (to --ring or
              --secret-id, the original or a new one); refuses to overwrite
  retire      VERSION: the version still opens values but never seals again
  min-version VERSION: versions below it stop opening (reversible)
  destroy     VERSION --yes: delete the version's wrapped key for good;
              values under it report "destroyed" (crypto-shredding)
  rewrap      --new-master-key-file FILE | --new-master-key-env VAR: move a
              local ring to a new master key (old values keep opening; aws
              rings follow their KMS key with rotate --if-cmk-rotated)`

// runKeysLifecycle runs one lifecycle subcommand for either provider.
func runKeysLifecycle(sub string, rest []string, stdout, stderr io.Writer) error {
	var k keyFlags
	var asJSON, yes bool
	var out, from, newMKFile, newMKEnv string
	var grace time.Duration
	usageLine := "keys " + sub + " [flags]"
	if sub == "retire" || sub == "min-version" || sub == "destroy" {
		usageLine = "keys " + sub + " [flags] VERSION"
	}
	fs := newFlags("keys "+sub, usageLine, keysSummary(sub), stdout, stderr)
	k.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if usageLine != "keys "+sub+" [flags]" {
		fs.DurationVar(&grace, "grace", -1, "refuse a version that was primary less than this `DURATION` ago (default 30m, or twice keys.refresh_interval when longer); 0s once every sidecar reports the new primary")
	}
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
	if sub == "destroy" && !yes {
		return fmt.Errorf("keys destroy v%d: values sealed under it become unreadable for good; pass --yes to confirm", id)
	}
	if grace < 0 {
		grace = max(crypto.DefaultGrace, 2*keys.RefreshInterval)
	}
	g := crypto.Grace{Period: grace}
	trail, err := openCLITrail(k.auditCfg, stderr)
	if err != nil {
		return err
	}
	var info keyAudit
	change := &keyChange{trail: trail, sub: sub, target: id}
	switch {
	case sub == "backup" && out == "":
		err = errors.New("keys backup: --out FILE is required")
	case sub == "restore" && from == "":
		err = errors.New("keys restore: --from FILE is required")
	case keys.Provider == config.ProviderAWS:
		ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
		defer cancel()
		err = lifecycleAWS(ctx, sub, id, g, out, from, asJSON, keys, stdout, &info, change)
	default:
		err = lifecycleLocal(sub, id, g, out, from, newMKFile, newMKEnv, asJSON, keys.Local, stdout, &info, change)
	}
	err = withNextStep(err, sub, &k, keys)
	return trail.finish(change, info, err)
}

// lifecycleLocal runs one lifecycle subcommand against the local ring; a
// change is recorded through change before the file is written.
func lifecycleLocal(sub string, id uint32, g crypto.Grace, out, from, newMKFile, newMKEnv string, asJSON bool, l config.LocalKeys, stdout io.Writer, info *keyAudit, change *keyChange) error {
	*info = keyAudit{keyIDs: nonZero(id)}
	if l.RingFile == "" {
		return errors.New("no ring file: pass --ring FILE or --config FILE")
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
			reportVerify(stdout, asJSON, rep, fmt.Sprintf("ring %s (%s, %s)", rep.Path, rep.RingID, rep.Format), rep.Metadata, rep.Versions, info)
		}
		return err
	case "backup":
		b, err := localkeys.WriteBackup(l.RingFile, mk, out, time.Now())
		if err != nil {
			return err
		}
		*info = keyAudit{primary: b.Primary, keyIDs: b.Versions, revision: b.SHA256}
		fmt.Fprintf(stdout, "backup %s: ring %s, versions %v, primary v%d, sha256 %s\n", out, b.RingID, b.Versions, b.Primary, b.SHA256)
		return nil
	case "restore":
		// Like keys init: a ring restored to a new place gets its directory.
		if err := os.MkdirAll(filepath.Dir(l.RingFile), 0o700); err != nil {
			return fmt.Errorf("keys restore: create ring directory: %w", err)
		}
		st, err = localkeys.RestoreBackup(from, mk, l.RingFile, change.local())
	case "retire":
		st, err = localkeys.Retire(l.RingFile, mk, id, g, change.local())
	case "min-version":
		st, err = localkeys.SetMinVersion(l.RingFile, mk, id, g, change.local())
	case "destroy":
		st, err = localkeys.Destroy(l.RingFile, mk, id, g, change.local())
	case "rewrap":
		if newMKFile == "" && newMKEnv == "" {
			return errors.New("keys rewrap: --new-master-key-file or --new-master-key-env is required")
		}
		newMK, mkErr := localkeys.LoadMasterKey(newMKFile, newMKEnv)
		if mkErr != nil {
			return fmt.Errorf("new master key: %w", mkErr)
		}
		st, err = localkeys.Rewrap(l.RingFile, mk, newMK, change.local())
	}
	return finishChange(stdout, sub, asJSON, st, err, change, info,
		func(st *localkeys.Status) keyAudit { return localAudit(st, id) },
		func(st *localkeys.Status) error { return writeLocalStatus(stdout, st, time.Now()) })
}

// lifecycleAWS runs one lifecycle subcommand against the aws ring; a
// change is recorded through change before the secret is written.
func lifecycleAWS(ctx context.Context, sub string, id uint32, g crypto.Grace, out, from string, asJSON bool, keys config.Keys, stdout io.Writer, info *keyAudit, change *keyChange) error {
	opts := awsOptions(keys, nil, zerolog.Nop())
	opts.BeforeWrite = change.aws
	*info = keyAudit{keyIDs: nonZero(id)}
	var st *awskeys.Status
	var err error
	switch sub {
	case "verify":
		rep, err := awskeys.Verify(ctx, opts)
		if rep != nil {
			reportVerify(stdout, asJSON, rep, fmt.Sprintf("secret %s (ring %s, %s)", rep.Secret, rep.RingID, rep.Format), rep.Metadata, rep.Versions, info)
		}
		return err
	case "backup":
		b, err := awskeys.WriteBackup(ctx, opts, out, time.Now())
		if err != nil {
			return err
		}
		*info = keyAudit{primary: b.Primary, keyIDs: b.Versions, revision: b.SourceVersion}
		fmt.Fprintf(stdout, "backup %s: secret %s version %s, ring %s, versions %v, primary v%d, sha256 %s\n",
			out, b.Source, b.SourceVersion, b.RingID, b.Versions, b.Primary, b.SHA256)
		return nil
	case "restore":
		st, err = awskeys.RestoreBackup(ctx, opts, from)
	case "retire":
		st, err = awskeys.Retire(ctx, opts, id, g)
	case "min-version":
		st, err = awskeys.SetMinVersion(ctx, opts, id, g)
	case "destroy":
		st, err = awskeys.Destroy(ctx, opts, id, g)
	case "rewrap":
		return errors.New("keys rewrap moves a local ring to a new master key; an aws ring follows its KMS key with `keys rotate --if-cmk-rotated`")
	}
	return finishChange(stdout, sub, asJSON, st, err, change, info,
		func(st *awskeys.Status) keyAudit { return awsAudit(st, id) },
		func(st *awskeys.Status) error { return st.WriteText(stdout, time.Now()) })
}

// finishChange ends a lifecycle subcommand that changes a ring, for either
// provider's Status S: it records the outcome err through change, fills
// the audit event from st (audit; st is nil when nothing was read), and
// on success writes st to w as JSON, or as sub's "done" line followed by
// text's status lines.
func finishChange[S any](w io.Writer, sub string, asJSON bool, st *S, err error, change *keyChange, info *keyAudit, audit func(*S) keyAudit, text func(*S) error) error {
	change.done(err)
	if st != nil {
		*info = audit(st)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, st)
	}
	fmt.Fprintf(w, "%s: done\n", sub)
	return text(st)
}

// reportVerify writes a provider's Verify report rep to w: as JSON, or as
// the ring line, the metadata check and one line a version (its state and,
// for a bad one, the error). It adds the versions to the audit event.
func reportVerify(w io.Writer, asJSON bool, rep any, ring, metadata string, vs crypto.VersionReports, info *keyAudit) {
	for _, v := range vs {
		info.keyIDs = append(info.keyIDs, v.ID)
	}
	if asJSON {
		_ = writeJSON(w, rep)
		return
	}
	fmt.Fprintf(w, "%s\nmetadata: %s\n", ring, metadata)
	for _, v := range vs {
		line := fmt.Sprintf("v%d\t%s", v.ID, v.State)
		if v.Error != "" {
			line += "\t" + v.Error
		}
		fmt.Fprintln(w, line)
	}
}
