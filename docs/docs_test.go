package docs_test

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The example names that every document, IAM file, example and chart default uses.
// A reader following docs/aws.md, docs/kubernetes.md and docs/iam/ together must
// meet one secret, one pair of roles, one region and one account.
const (
	secretName = "fieldseal/keyring" // the chart's default keys.aws.secretId
	region     = "eu-west-1"
	account    = "111122223333"
	kmsAlias   = "alias/fieldseal"
)

var roles = []string{"fieldseal-sidecar", "fieldseal-rotator"}

// root is the repository root, seen from this package's directory.
const root = ".."

type docFile struct {
	path string // slash-separated, relative to root
	text string
}

// documentation returns every file whose names are checked: all markdown files of
// the repository, the IAM documents, the examples' YAML files, and the chart's
// values.yaml and NOTES.txt. The chart's ci/ values and every testdata/ directory
// are test inputs that use other values on purpose, and are left out.
func documentation(t *testing.T) []docFile {
	t.Helper()
	var files []docFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" ||
				rel == "charts/fieldseal/ci") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(rel)
		keep := ext == ".md" ||
			(strings.HasPrefix(rel, "docs/iam/") && ext == ".json") ||
			(strings.HasPrefix(rel, "examples/") && (ext == ".yaml" || ext == ".yml")) ||
			rel == "charts/fieldseal/values.yaml" ||
			rel == "charts/fieldseal/templates/NOTES.txt"
		if !keep {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, docFile{rel, string(b)})
		return nil
	})
	if err != nil {
		t.Fatalf("walk the repository: %v", err)
	}
	for _, must := range []string{"README.md", "docs/aws.md", "docs/kubernetes.md", "docs/auth.md",
		"docs/iam/sidecar-policy.json", "docs/iam/rotator-policy.json", "docs/iam/kms-key-policy.json",
		"charts/fieldseal/values.yaml", "charts/fieldseal/templates/NOTES.txt"} {
		if find(files, must) == nil {
			t.Fatalf("%s is not in the documentation set", must)
		}
	}
	return files
}

func find(files []docFile, path string) *docFile {
	for i := range files {
		if files[i].path == path {
			return &files[i]
		}
	}
	return nil
}

// lineOf returns the 1-based line of byte offset i in s.
func lineOf(s string, i int) int { return strings.Count(s[:i], "\n") + 1 }

// placeholder reports whether v stands for a value the reader fills in
// ("<secret name>", "NAME", "{{ .Values.x }}", "$SECRET", "*") or is left empty.
func placeholder(v string) bool {
	return v == "" || strings.ContainsAny(v, "<{$*") ||
		(strings.ToUpper(v) == v && strings.ContainsAny(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
}

// nameRule finds one kind of name: submatch 1 of re is the name, want says which
// names are allowed.
type nameRule struct {
	what string
	re   *regexp.Regexp
	want []string
}

var nameRules = []nameRule{
	// The Secrets Manager secret holding the key ring.
	{"secret", regexp.MustCompile(`--secret-id[= ]+"?([^\s"'\x60\\]+)`), []string{secretName}},
	{"secret", regexp.MustCompile(`secret_id:[ \t]*"?([^\s"#]*)`), []string{secretName}},
	{"secret", regexp.MustCompile(`secretId(?:=|:[ \t]*)"?([^\s"\\]*)`), []string{secretName}},
	{"secret", regexp.MustCompile(`fieldseal:secret"?\s*:\s*"([^"]*)"`), []string{secretName}},
	{"secret", regexp.MustCompile(`:secret:([^\s"]+?)-\?{6}`), []string{secretName}},
	// The region of the walk-through, the IAM documents and the examples.
	{"region", regexp.MustCompile(`(?:^|[^A-Za-z_])region:[ \t]*"?([a-z0-9-]*)`), []string{region}},
	{"region", regexp.MustCompile(`--region[= ]+([a-z0-9-]+)`), []string{region}},
	{"region", regexp.MustCompile(`\.region=([a-z0-9-]+)`), []string{region}},
	{"region", regexp.MustCompile(`AWS_(?:DEFAULT_)?REGION"?[ \t]*[:=][ \t]*"?([a-z0-9-]+)`), []string{region}},
	{"region", regexp.MustCompile(`arn:aws:[a-z0-9-]+:([a-z0-9-]+):`), []string{region}},
	{"region", regexp.MustCompile(`"awsRegion"\s+"([^"]*)"`), []string{region}},
	{"region", regexp.MustCompile(`cognito-idp\.([a-z0-9-]+)\.amazonaws\.com`), []string{region}},
	{"region", regexp.MustCompile("region `([a-z0-9-]+)`"), []string{region}},
	// The AWS account.
	{"account", regexp.MustCompile(`arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):`), []string{account}},
	{"account", regexp.MustCompile("account `(\\d{12})`"), []string{account}},
	// The IAM roles.
	{"role", regexp.MustCompile(`:role/([A-Za-z0-9+=,.@_-]+)`), roles},
	{"role", regexp.MustCompile(`assumed-role/([A-Za-z0-9+=,.@_-]+)`), roles},
	{"role", regexp.MustCompile(`--role-name[= ]+([A-Za-z0-9+=,.@_-]+)`), roles},
	// The KMS key alias.
	{"KMS alias", regexp.MustCompile(`(alias/[A-Za-z0-9/_-]+)`), []string{kmsAlias}},
}

func TestExampleNamesAreTheSameEverywhere(t *testing.T) {
	files := documentation(t)
	seen := map[string]int{}
	for _, f := range files {
		for _, r := range nameRules {
			for _, m := range r.re.FindAllStringSubmatchIndex(f.text, -1) {
				got := f.text[m[2]:m[3]]
				if placeholder(got) {
					continue
				}
				seen[r.what]++
				ok := false
				for _, w := range r.want {
					ok = ok || got == w
				}
				if !ok {
					t.Errorf("%s:%d: %s %q, want %s", f.path, lineOf(f.text, m[2]), r.what, got, strings.Join(quoteAll(r.want), " or "))
				}
			}
		}
		for _, old := range []string{"pii/ring", "pii/keyring"} {
			if i := strings.Index(f.text, old); i >= 0 {
				t.Errorf("%s:%d: the old secret name %q; the example secret is %q", f.path, lineOf(f.text, i), old, secretName)
			}
		}
	}
	// Each kind must have been found, or the rules no longer match the documents.
	for _, what := range []string{"secret", "region", "account", "role", "KMS alias"} {
		if seen[what] == 0 {
			t.Errorf("no %s found in the documentation: the patterns of this test no longer match it", what)
		}
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = `"` + v + `"`
	}
	return out
}

func TestChartDefaultsAreTheDocumentedNames(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "charts/fieldseal/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Keys struct {
			AWS struct {
				SecretID string `yaml:"secretId"`
			} `yaml:"aws"`
		} `yaml:"keys"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("charts/fieldseal/values.yaml: %v", err)
	}
	if v.Keys.AWS.SecretID != secretName {
		t.Errorf("charts/fieldseal/values.yaml keys.aws.secretId = %q, want %q (the name the docs and IAM files use)", v.Keys.AWS.SecretID, secretName)
	}
}

func TestIAMDocumentsAreValidJSON(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(root, "docs/iam/*.json"))
	if len(paths) == 0 {
		t.Fatal("no docs/iam/*.json")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version   string
			Statement []map[string]any
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
			t.Errorf("%s: want an IAM policy (Version 2012-10-17 with statements)", p)
		}
	}
}

// fencedBlocks returns the fenced code blocks of a markdown text with their
// language and the text of the (up to three) lines before the fence.
type fenced struct {
	lang, before, body string
	line               int
}

func fencedBlocks(text string) []fenced {
	var out []fenced
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "```") {
			continue
		}
		lang := strings.TrimPrefix(l, "```")
		indent := lines[i][:strings.Index(lines[i], "```")]
		var body []string
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			body = append(body, strings.TrimPrefix(lines[j], indent))
		}
		from := max(0, i-3)
		out = append(out, fenced{lang, strings.Join(lines[from:i], "\n"), strings.Join(body, "\n") + "\n", i + 1})
		i = j
	}
	return out
}

func TestREADMEQuickStartMapIsTheExampleFile(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const file = "examples/quickstart/fieldseal.yaml"
	var shown *fenced
	for _, b := range fencedBlocks(string(readme)) {
		if b.lang == "yaml" && strings.Contains(b.before, file) {
			shown = &b
			break
		}
	}
	if shown == nil {
		t.Fatalf("README.md: no yaml block introduced by %s", file)
	}
	var got, want map[string]any
	if err := yaml.Unmarshal([]byte(shown.body), &got); err != nil {
		t.Fatalf("README.md:%d: %v", shown.line, err)
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, k := range []string{"classes", "routes"} {
		if _, ok := got[k]; !ok {
			t.Errorf("README.md:%d: the quick-start map has no %s", shown.line, k)
		}
	}
	for k, v := range got {
		if !reflect.DeepEqual(v, want[k]) {
			t.Errorf("README.md:%d: the quick-start map's %s differs from %s:\n got: %v\nwant: %v", shown.line, k, file, v, want[k])
		}
	}
}

// proxyErrorCodes returns the error codes the proxy answers with, read from its
// status table (the rows shared with the API in internal/jsonerror/*.go and
// the proxy's own in proxy/*.go: Class literals and NewRow calls).
func proxyErrorCodes(t *testing.T) map[string]bool {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, "proxy/*.go"))
	shared, _ := filepath.Glob(filepath.Join(root, "internal/jsonerror/*.go"))
	paths = append(paths, shared...)
	re := regexp.MustCompile(`(?:Class\{|NewRow\([^,()]+,)[^,{}()]+,\s*"([a-z_]+)"`)
	codes := map[string]bool{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			codes[m[1]] = true
		}
	}
	if !codes["masked_value"] || !codes["invalid_json"] {
		t.Fatalf("found error codes %v in proxy/*.go; the pattern of this test no longer matches the proxy's status table", codes)
	}
	return codes
}

func TestErrorBodiesHaveTheProxysShape(t *testing.T) {
	codes := proxyErrorCodes(t)
	found := map[string]bool{}
	for _, f := range documentation(t) {
		if filepath.Ext(f.path) != ".md" {
			continue
		}
		text := f.text
		for off := 0; ; {
			i := strings.Index(text[off:], `{"error":`)
			if i < 0 {
				break
			}
			at := off + i
			off = at + 1
			var body map[string]json.RawMessage
			if err := json.NewDecoder(strings.NewReader(text[at:])).Decode(&body); err != nil {
				t.Errorf("%s:%d: an error body that is not JSON (%v); the proxy sends {\"error\":{\"code\":…,\"message\":…,\"request_id\":…}}", f.path, lineOf(text, at), err)
				continue
			}
			var e map[string]string
			if len(body) != 1 || json.Unmarshal(body["error"], &e) != nil {
				t.Errorf("%s:%d: error body %s, want {\"error\":{\"code\":…,\"message\":…,\"request_id\":…}}", f.path, lineOf(text, at), text[at:at+min(60, len(text)-at)])
				continue
			}
			keys := make([]string, 0, len(e))
			for k := range e {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, ",") != "code,message,request_id" {
				t.Errorf("%s:%d: error body has members %v, want code, message, request_id", f.path, lineOf(text, at), keys)
			}
			if c := e["code"]; c != "…" && !codes[c] {
				t.Errorf("%s:%d: error code %q is not one the proxy sends", f.path, lineOf(text, at), c)
			}
			found[f.path+" "+e["code"]] = true
		}
	}
	if !found["docs/auth.md masked_value"] {
		t.Error(`docs/auth.md does not show the 422 body of a masked write-back ({"error":{"code":"masked_value",…}})`)
	}
}

// helmValuesMark opens a YAML block of Helm chart values, whose keys: section
// is the chart's (keys.local.secretName, ...), not the sidecar config's.
const helmValuesMark = "# Helm values"

func TestDocumentedKeySettingsExist(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join(root, "docs/config.md"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range documentation(t) {
		if filepath.Ext(f.path) != ".md" {
			continue
		}
		for _, b := range fencedBlocks(f.text) {
			if b.lang != "yaml" || strings.HasPrefix(strings.TrimSpace(b.body), helmValuesMark) {
				continue
			}
			var doc map[string]any
			if yaml.Unmarshal([]byte(b.body), &doc) != nil {
				continue // Helm templates and fragments are not YAML documents
			}
			keys, ok := doc["keys"].(map[string]any)
			if !ok {
				continue
			}
			for _, k := range flatten("keys", keys) {
				checked++
				if !strings.Contains(string(ref), "| `"+k+"` |") {
					t.Errorf("%s:%d: %s is not a configuration key (docs/config.md, generated from the config package, has no row for it)", f.path, b.line, k)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no keys: settings found in the documentation's yaml blocks")
	}
}

// flatten returns the dotted names of every key below prefix.
func flatten(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		name := prefix + "." + k
		out = append(out, name)
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flatten(name, sub)...)
		}
	}
	sort.Strings(out)
	return out
}

func TestLinksStayInTheRepository(t *testing.T) {
	link := regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	absRoot, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range documentation(t) {
		if filepath.Ext(f.path) != ".md" {
			continue
		}
		for _, outside := range []string{"DESIGN.md", "DESIGN section", "STYLE.md", "/work/"} {
			if i := strings.Index(f.text, outside); i >= 0 {
				t.Errorf("%s:%d: refers to %q, which is not in the repository", f.path, lineOf(f.text, i), outside)
			}
		}
		for _, m := range link.FindAllStringSubmatchIndex(f.text, -1) {
			target := f.text[m[2]:m[3]]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := filepath.Join(absRoot, filepath.FromSlash(filepath.Dir(f.path)), filepath.FromSlash(target))
			if rel, err := filepath.Rel(absRoot, p); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s:%d: link %q leaves the repository", f.path, lineOf(f.text, m[2]), target)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s:%d: link %q: no such file in the repository", f.path, lineOf(f.text, m[2]), target)
			}
		}
	}
}

func TestComposeResetDropsVolumes(t *testing.T) {
	n := 0
	for _, f := range documentation(t) {
		for off := 0; ; {
			i := strings.Index(f.text[off:], "compose down")
			if i < 0 {
				break
			}
			at := off + i
			off = at + 1
			n++
			if !strings.HasPrefix(f.text[at+len("compose down"):], " -v") {
				t.Errorf("%s:%d: `docker compose down` without -v keeps the app's data while moto forgets the keys; write `docker compose down -v`", f.path, lineOf(f.text, at))
			}
		}
	}
	if n == 0 {
		t.Error("no `docker compose down` found; the docker-compose example should say how to reset it")
	}
}
