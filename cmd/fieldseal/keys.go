package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// keyFlags are the provider settings every `keys` subcommand accepts. Values
// come from --config when given; flags that were set override them.
type keyFlags struct {
	configFile    string
	provider      string
	ringFile      string
	masterKeyFile string
	masterKeyEnv  string
	kmsKeyID      string
	secretID      string
	region        string
	endpoint      string
	timeout       time.Duration
	// auditCfg is the config's audit section (nil: no audit trail).
	auditCfg *audit.Config
}

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.configFile, "config", "", "config `FILE` whose keys section supplies the defaults below")
	fs.StringVar(&k.provider, "provider", "", "key provider: local or aws (default from --config, else local)")
	fs.StringVar(&k.ringFile, "ring", "", "local: key-ring `FILE`")
	fs.StringVar(&k.masterKeyFile, "master-key-file", "", "local: `FILE` holding the base64 master key")
	fs.StringVar(&k.masterKeyEnv, "master-key-env", "", "local: environment `VARIABLE` holding the base64 master key (default FIELDSEAL_MASTER_KEY)")
	fs.StringVar(&k.kmsKeyID, "kms-key-id", "", "aws: KMS key `ID`, ARN, alias name or alias ARN that wraps the data keys")
	fs.StringVar(&k.secretID, "secret-id", "", "aws: Secrets Manager secret `NAME` or ARN holding the key ring")
	fs.StringVar(&k.region, "region", "", "aws: `REGION` (default from the SDK chain)")
	fs.StringVar(&k.endpoint, "endpoint", "", "aws: endpoint `URL` override for KMS and Secrets Manager (emulators, VPC endpoints)")
	fs.DurationVar(&k.timeout, "timeout", 2*time.Minute, "bound on the whole operation")
}

// settings merges the config file (if any) with the flags that were set.
func (k *keyFlags) settings(fs *flag.FlagSet) (config.Keys, error) {
	keys := config.Defaults().Keys
	if k.configFile != "" {
		cfg, err := loadConfig(k.configFile)
		if err != nil || cfg == nil {
			return keys, err
		}
		keys = cfg.Keys
		k.auditCfg = cfg.Audit
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	override := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	var provider string = string(keys.Provider)
	override("provider", &provider, k.provider)
	keys.Provider = config.Provider(provider)
	override("ring", &keys.Local.RingFile, k.ringFile)
	override("master-key-file", &keys.Local.MasterKeyFile, k.masterKeyFile)
	override("master-key-env", &keys.Local.MasterKeyEnv, k.masterKeyEnv)
	override("kms-key-id", &keys.AWS.KMSKeyID, k.kmsKeyID)
	override("secret-id", &keys.AWS.SecretID, k.secretID)
	override("region", &keys.AWS.Region, k.region)
	override("endpoint", &keys.AWS.Endpoint, k.endpoint)
	switch keys.Provider {
	case config.ProviderLocal, config.ProviderAWS:
	default:
		return keys, fmt.Errorf("unknown key provider %q: want local or aws", keys.Provider)
	}
	return keys, nil
}

// loadConfig loads a config file and makes its relative paths relative to
// the file's directory, so a config works from any working directory.
// Like config.Load, it may return a partly decoded config with an error
// (for `config check` to go on reporting); callers that serve must not use it.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&cfg.Keys.Local.RingFile, &cfg.Keys.Local.MasterKeyFile, &cfg.TLS.CertFile, &cfg.TLS.KeyFile, &cfg.AdminTLS.CertFile, &cfg.AdminTLS.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg, err
}

// newKeySource builds the configured provider as a crypto.Source. close
// releases its resources.
func newKeySource(ctx context.Context, keys config.Keys, reg prometheus.Registerer, log zerolog.Logger) (src crypto.Source, closeFn func(), err error) {
	src, _, closeFn, err = newRotatingKeySource(ctx, keys, reg, log)
	return src, closeFn, err
}

// newRotatingKeySource is newKeySource that also returns the provider's
// conditional rotation for a keycache.Rotator (the master key is read once,
// and cleared from the environment then, so both come from one place). The
// Rotator calls it only when keys.rotation lets the sidecar rotate.
func newRotatingKeySource(ctx context.Context, keys config.Keys, reg prometheus.Registerer, log zerolog.Logger) (src crypto.Source, rotate keycache.RotateFunc, closeFn func(), err error) {
	switch keys.Provider {
	case config.ProviderAWS:
		opts := awsOptions(keys, reg, log)
		p, err := awskeys.New(ctx, opts)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("aws key provider: %w", err)
		}
		rotate = func(ctx context.Context, cond func(crypto.KeyInfo) bool) (bool, error) {
			st, err := awskeys.RotateIf(ctx, opts, cond)
			return err == nil && st.Rotated, err
		}
		return p, rotate, p.Close, nil
	default:
		mk, err := localkeys.LoadMasterKey(keys.Local.MasterKeyFile, keys.Local.MasterKeyEnv)
		if err != nil {
			return nil, nil, nil, err
		}
		path := keys.Local.RingFile
		rotate = func(_ context.Context, cond func(crypto.KeyInfo) bool) (bool, error) {
			st, err := localkeys.RotateIf(path, mk, cond)
			return err == nil && st.Rotated, err
		}
		return localkeys.New(path, mk), rotate, func() {}, nil
	}
}

const keysUsage = `keys SUBCOMMAND [flags]

  init        create a key ring with data key version 1 (refuses to overwrite one)
  rotate      add a data key version and make it primary; running sidecars pick
              it up on their next refresh, old values still open
              (--if-older-than 90d rotates only when the primary is older;
              aws: --if-cmk-rotated rotates only when the KMS key rotated, and
              re-wraps the existing data keys under it; with both, either);
              the lookup version that deterministic classes seal under stays
              where it is
  rotate-lookup
              make the primary the lookup version (adds no key: rotate first
              for a new one); deterministic values then seal differently:
              search by both (POST /v1/lookup lists the old values) until they
              are re-sealed. Needed before the lookup version may be retired,
              destroyed or put below the minimum
  status      print the ring: versions, primary, ages (never key material)
  master-key  print a new random master key for the local provider (base64)` + lifecycleUsage

// keysSummary is the description `keys SUBCOMMAND --help` prints.
func keysSummary(sub string) string {
	switch sub {
	case "init":
		return "Create a key ring with data key version 1. It refuses to overwrite a ring\n(--if-absent: succeed without a change when one exists)."
	case "rotate":
		return "Add a data key version and make it primary; running sidecars pick it up on\ntheir next refresh and old values still open. The lookup version of\ndeterministic classes stays where it is."
	case "rotate-lookup":
		return "Make the primary the lookup version that deterministic classes seal under\n(adds no key: rotate first for a new one). Deterministic values then seal\ndifferently: search by both (POST /v1/lookup lists the old values in\n\"others\") until they are re-sealed."
	case "status":
		return "Print the key ring: its versions with their state, the primary, lookup and\nminimum versions and their ages (never key material)."
	case "verify":
		return "Unwrap every key version and check the ring's signed metadata; exit 1\nnaming each bad version."
	case "backup":
		return "Write a self-describing, checksummed backup of the ring (wrapped keys and\nsigned metadata, never a plaintext key) to a new file."
	case "restore":
		return "Check a backup and write its ring (to --ring or --secret-id, the original\nor a new one); never overwrites a ring."
	case "retire":
		return "Retire a key version: it still opens values but never seals again."
	case "min-version":
		return "Set the minimum version: versions below it stop opening (reversible)."
	case "destroy":
		return "Delete a key version's wrapped key for good (crypto-shredding): values\nsealed under it report \"destroyed\". Needs --yes."
	case "rewrap":
		return "Move a local ring to a new master key; values keep opening and the old\nmaster key no longer opens the ring."
	}
	return "Manage the key ring: " + sub + "."
}

func runKeys(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		fmt.Fprintf(stdout, "Usage: fieldseal %s\n\nRun 'fieldseal keys SUBCOMMAND --help' for its flags.\n", keysUsage)
		return nil
	}
	sub, rest, err := subcommand(args, append([]string{"init", "rotate", "rotate-lookup", "status", "master-key"}, lifecycleSubcommands...)...)
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal keys: %v\n\nUsage: fieldseal %s\n", err, keysUsage)
		return errUsage
	}
	if slices.Contains(lifecycleSubcommands, sub) {
		return runKeysLifecycle(sub, rest, stdout, stderr)
	}
	if sub == "master-key" {
		fs := newFlags("keys master-key", "keys master-key", "Print a new random 256-bit master key (base64) for the local provider.\nStore it as a secret: `fieldseal keys master-key > master.key` with umask 077.", stdout, stderr)
		if err := parse(fs, rest); err != nil {
			return err
		}
		mk, err := localkeys.GenerateMasterKey()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, mk)
		return err
	}

	var k keyFlags
	var ifCMKRotated, ifAbsent, asJSON bool
	var olderThan ageFlag
	fs := newFlags("keys "+sub, "keys "+sub+" [flags]", keysSummary(sub), stdout, stderr)
	k.register(fs)
	if sub == "rotate" {
		fs.BoolVar(&ifCMKRotated, "if-cmk-rotated", false, "aws: rotate only if the KMS key rotated since the ring last followed it")
		fs.Var(&olderThan, "if-older-than", "rotate only if the primary version is older than `AGE` (a Go duration or whole days: 90d); safe to run often and from many places at once")
	}
	if sub == "init" {
		fs.BoolVar(&ifAbsent, "if-absent", false, "succeed without a change when the ring already exists (for a Job or hook that runs on every install)")
	}
	fs.BoolVar(&asJSON, "json", false, "print the ring status as JSON")
	if err := parse(fs, rest); err != nil {
		return err
	}
	keys, err := k.settings(fs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	if keys.Provider != config.ProviderAWS && ifCMKRotated {
		return errors.New("--if-cmk-rotated applies to the aws provider only")
	}
	// status reads the ring without using a key: not a key event.
	var trail *cliTrail
	if sub != "status" {
		if trail, err = openCLITrail(k.auditCfg, stderr); err != nil {
			return err
		}
	}
	var info keyAudit
	change := &keyChange{trail: trail, sub: sub}
	cond := rotateCond{cmk: ifCMKRotated, olderThan: time.Duration(olderThan), now: time.Now()}
	if keys.Provider == config.ProviderAWS {
		err = keysAWS(ctx, sub, cond, asJSON, keys, stdout, &info, change)
	} else {
		err = keysLocal(sub, cond, asJSON, keys.Local, stdout, &info, change)
	}
	if sub == "init" && ifAbsent && (errors.Is(err, localkeys.ErrRingExists) || errors.Is(err, awskeys.ErrRingExists)) {
		// Nothing was created or changed: not a key event. Say so, and
		// show the ring that is there.
		fmt.Fprintln(stdout, "key ring exists; left unchanged")
		if keys.Provider == config.ProviderAWS {
			return withNextStep(keysAWS(ctx, "status", rotateCond{}, asJSON, keys, stdout, &info, change), "status", &k, keys)
		}
		return withNextStep(keysLocal("status", rotateCond{}, asJSON, keys.Local, stdout, &info, change), "status", &k, keys)
	}
	err = withNextStep(err, sub, &k, keys)
	if sub == "status" {
		return err
	}
	return trail.finish(change, info, err)
}

// keysLocal runs a ring command against the local ring; a change is
// recorded through change before the file is written.
func keysLocal(sub string, cond rotateCond, asJSON bool, l config.LocalKeys, stdout io.Writer, info *keyAudit, change *keyChange) error {
	if l.RingFile == "" {
		return errors.New("no ring file: pass --ring FILE or --config FILE")
	}
	var st *localkeys.Status
	var err error
	var prevLookup uint32
	switch sub {
	case "status":
		st, err = localkeys.ReadStatus(l.RingFile)
	default:
		mk, mkErr := localkeys.LoadMasterKey(l.MasterKeyFile, l.MasterKeyEnv)
		if mkErr != nil {
			return mkErr
		}
		if sub == "init" {
			if dir := filepath.Dir(l.RingFile); dir != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return fmt.Errorf("create ring directory: %w", err)
				}
			}
			st, err = localkeys.Init(l.RingFile, mk, change.local())
		} else if sub == "rotate-lookup" {
			if before, err := localkeys.ReadStatus(l.RingFile); err == nil {
				prevLookup = before.Lookup
			}
			st, err = localkeys.RotateLookup(l.RingFile, mk, change.local())
		} else {
			st, err = localkeys.RotateIf(l.RingFile, mk, cond.due, change.local())
		}
		change.done(err)
	}
	if done, err := ringOutcome(sub, localAudit(st, 0), st != nil && st.Rotated, err, asJSON, st, stdout, info); done {
		return err
	}
	if sub == "rotate" {
		fmt.Fprintln(stdout, cond.verdict(st.Rotated, st.Primary, st.Keys))
	}
	if sub == "rotate-lookup" {
		writeLookupMoved(stdout, prevLookup, st.Lookup)
	}
	return writeLocalStatus(stdout, st, time.Now())
}

// keysAWS runs a ring command against the aws ring; a change is recorded
// through change before the secret is written.
func keysAWS(ctx context.Context, sub string, cond rotateCond, asJSON bool, keys config.Keys, stdout io.Writer, info *keyAudit, change *keyChange) error {
	opts := awsOptions(keys, nil, zerolog.Nop())
	opts.BeforeWrite = change.aws
	var st *awskeys.Status
	var err error
	var prevLookup uint32
	switch {
	case sub == "init":
		st, err = awskeys.Init(ctx, opts)
	case sub == "rotate" && cond.cmk:
		st, err = awskeys.RotateIfCMKRotated(ctx, opts)
		if err == nil && !st.Rotated && cond.olderThan > 0 {
			st, err = awskeys.RotateIf(ctx, opts, cond.due)
		}
	case sub == "rotate":
		st, err = awskeys.RotateIf(ctx, opts, cond.due)
	case sub == "rotate-lookup":
		if before, err := awskeys.ReadStatus(ctx, opts); err == nil {
			prevLookup = before.Lookup
		}
		st, err = awskeys.RotateLookup(ctx, opts)
	default:
		st, err = awskeys.ReadStatus(ctx, opts)
	}
	change.done(err)
	if done, err := ringOutcome(sub, awsAudit(st, 0), st != nil && st.Rotated, err, asJSON, st, stdout, info); done {
		return err
	}
	if sub == "rotate" {
		// A rotation CronJob's log must say which way it went.
		switch {
		case st.Rotated && len(st.Rewrapped) > 0:
			fmt.Fprintf(stdout, "rotated: yes, v%d is primary; re-wrapped %v under the current KMS key\n", st.Primary, st.Rewrapped)
		default:
			infos := make([]crypto.KeyInfo, 0, len(st.Versions))
			for _, v := range st.Versions {
				infos = append(infos, crypto.KeyInfo{ID: v.ID, Created: v.Created, Primary: v.Primary})
			}
			fmt.Fprintln(stdout, cond.verdict(st.Rotated, st.Primary, infos))
		}
	}
	if sub == "rotate-lookup" {
		writeLookupMoved(stdout, prevLookup, st.Lookup)
	}
	return st.WriteText(stdout, time.Now())
}

// writeLookupMoved reports a rotate-lookup that made now the lookup version
// (before: the lookup version it read first, 0 if it could not). When the
// version moved, values of deterministic classes sealed before seal
// differently now, so equality lookups must also search the old ones.
func writeLookupMoved(w io.Writer, before, now uint32) {
	if before == now {
		fmt.Fprintf(w, "rotate-lookup: done, v%d already was the lookup version; nothing changed\n", now)
		return
	}
	fmt.Fprintf(w, "rotate-lookup: done, deterministic values now seal under v%d\n", now)
	fmt.Fprintln(w, "warning: values of deterministic classes sealed before seal differently now; until they are re-sealed, search for both: "+
		"POST /v1/lookup lists a value's seals under the other versions in \"others\" (with no deterministic class there is nothing to re-seal)")
}

// writeLocalStatus writes a local ring's status as text: the ring, its
// primary, lookup and minimum versions, its revision, and one row a version
// with its lifecycle state. It never prints key material.
func writeLocalStatus(w io.Writer, st *localkeys.Status, now time.Time) error {
	fmt.Fprintf(w, "ring %s (%s)\nprimary: v%d\nlookup: v%d (deterministic values)\n", st.Path, st.RingID, st.Primary, st.Lookup)
	if st.MinVersion > 1 {
		fmt.Fprintf(w, "minimum version: v%d (versions below it do not open)\n", st.MinVersion)
	}
	fmt.Fprintf(w, "revision: %s\n", st.Revision)
	return writeVersions(w, st.Keys, st.MinVersion, now)
}

// writeVersions writes one row a key version: its creation time and age
// (none for a destroyed version, which keeps no record of either), whether
// it is the primary or the lookup version, and its lifecycle state; versions
// below minVersion keep their key but do not open ("below minimum").
func writeVersions(w io.Writer, keys []crypto.KeyInfo, minVersion uint32, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tAGE\tPRIMARY\tLOOKUP\tSTATE")
	for _, k := range keys {
		primary, lookup, state := "", "", "active"
		if k.Primary {
			primary = "yes"
		}
		if k.Lookup {
			lookup = "yes"
		}
		switch {
		case k.ID < minVersion && !k.Created.IsZero():
			state = "below minimum"
		case k.Destroyed:
			state = "destroyed"
		case k.Retired:
			state = "retired"
		}
		created, age := "-", "-"
		if !k.Created.IsZero() {
			created, age = k.Created.UTC().Format(time.RFC3339), now.Sub(k.Created).Round(time.Second).String()
		}
		if k.Destroyed && k.Created.IsZero() {
			created, age = "destroyed", "destroyed"
		}
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, created, age, primary, lookup, state)
	}
	return tw.Flush()
}

// ringOutcome records in info how a ring command (init, status, rotate,
// rotate-lookup) ended: audit from the provider's Status, and the reason
// reasonNotDue for a rotate that rotated nothing. It returns done when the
// command failed or printed its Status st as JSON; otherwise the caller
// prints the text form.
func ringOutcome(sub string, audit keyAudit, rotated bool, err error, asJSON bool, st any, stdout io.Writer, info *keyAudit) (done bool, _ error) {
	*info = audit
	if err != nil {
		return true, err
	}
	if sub == "rotate" && !rotated {
		info.reason = reasonNotDue
	}
	if asJSON {
		return true, writeJSON(stdout, st)
	}
	return false, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
