package compose_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction after joining continuation lines.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string
	Line int
}

type stage struct {
	From  string // image reference
	Name  string // AS name
	Instr []instruction
}

// parseDockerfile is a line-level Dockerfile reader: comments and parser
// directives are dropped, backslash continuations joined, and instructions
// grouped by stage. It is enough to check structure; BuildKit's parser is not
// needed for that.
func parseDockerfile(t *testing.T, path string) (global []instruction, stages []stage) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			fields := strings.Fields(in.Args)
			var st stage
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					st.Name = fields[i+1]
					i++
				default:
					st.From = fields[i]
				}
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			global = append(global, in)
			return
		}
		stages[len(stages)-1].Instr = append(stages[len(stages)-1].Instr, in)
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comment or parser directive (also inside continuations)
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return global, stages
}

func find(st stage, cmd string) []instruction {
	var out []instruction
	for _, in := range st.Instr {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// finalImages are the Dockerfile's final stages, in order: the last one is
// what a build without --target makes, so it must be the sidecar.
var finalImages = []struct{ stage, pkg, binary string }{
	{"injector", "./cmd/fieldseal-injector", "fieldseal-injector"},
	{"sidecar", "./cmd/fieldseal", "fieldseal"},
}

func TestDockerfile(t *testing.T) {
	root := filepath.Join("..", "..")
	global, stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 1+len(finalImages) {
		t.Fatalf("%d stages, want a builder and %d final images", len(stages), len(finalImages))
	}
	builder := stages[0]
	goVersion := ""
	for _, in := range global {
		if in.Cmd == "ARG" && strings.HasPrefix(in.Args, "GO_VERSION=") {
			goVersion = strings.TrimPrefix(in.Args, "GO_VERSION=")
		}
	}

	t.Run("the builder is golang 1.26 and builds static, trimmed, version-stamped binaries", func(t *testing.T) {
		from := strings.ReplaceAll(builder.From, "${GO_VERSION}", goVersion)
		if from != "golang:1.26" {
			t.Errorf("builder FROM %q (GO_VERSION=%q), want golang:1.26", builder.From, goVersion)
		}
		for _, img := range finalImages {
			var build string
			for _, in := range find(builder, "RUN") {
				if strings.Contains(in.Args, "go build") && strings.HasSuffix(in.Args, " "+img.pkg) {
					build = in.Args
				}
			}
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X main.version=${VERSION}"`, "-o /out/" + img.binary + " "} {
				if !strings.Contains(build, want) {
					t.Errorf("go build step for %s %q lacks %q", img.pkg, build, want)
				}
			}
		}
		if !slices.ContainsFunc(find(builder, "ARG"), func(in instruction) bool { return strings.HasPrefix(in.Args, "VERSION") }) {
			t.Error("builder has no ARG VERSION")
		}
	})
	for i, img := range finalImages {
		final := stages[1+i]
		t.Run("the "+img.stage+" image is distroless static, shell-free, non-root, with its binary as entrypoint", func(t *testing.T) {
			if final.Name != img.stage {
				t.Fatalf("stage %d is named %q, want %q", 1+i, final.Name, img.stage)
			}
			if !regexp.MustCompile(`^gcr\.io/distroless/static-debian12:nonroot(@sha256:[a-f0-9]{64})?$`).MatchString(final.From) {
				t.Errorf("final FROM %q, want gcr.io/distroless/static-debian12:nonroot", final.From)
			}
			allowed := []string{"ARG", "LABEL", "COPY", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "ENV"}
			for _, in := range final.Instr {
				if !slices.Contains(allowed, in.Cmd) {
					t.Errorf("line %d: %s in the final stage (it has no shell; only %v belong there)", in.Line, in.Cmd, allowed)
				}
			}
			copies := find(final, "COPY")
			if want := "--from=" + builder.Name + " /out/" + img.binary + " /" + img.binary; len(copies) != 1 || copies[0].Args != want {
				t.Errorf("final COPY = %+v, want only %q", copies, want)
			}
			users := find(final, "USER")
			if len(users) != 1 {
				t.Fatalf("final stage has %d USER instructions, want 1", len(users))
			}
			uid, _, _ := strings.Cut(users[0].Args, ":")
			if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
				t.Errorf("USER %q: want a numeric non-root uid (Kubernetes runAsNonRoot cannot verify names)", users[0].Args)
			}
			var ep []string
			eps := find(final, "ENTRYPOINT")
			if len(eps) != 1 || json.Unmarshal([]byte(eps[0].Args), &ep) != nil || !slices.Equal(ep, []string{"/" + img.binary}) {
				t.Errorf("ENTRYPOINT = %+v, want exec form [\"/%s\"]", eps, img.binary)
			}
			for _, in := range find(final, "CMD") {
				var cmd []string
				if json.Unmarshal([]byte(in.Args), &cmd) != nil {
					t.Errorf("line %d: CMD %s is not exec form (shell form needs /bin/sh)", in.Line, in.Args)
				}
			}
		})
	}
	t.Run("every image's main package declares the version variable the build stamps", func(t *testing.T) {
		for _, img := range finalImages {
			main := filepath.Join(root, filepath.FromSlash(img.pkg), "main.go")
			src, err := os.ReadFile(main)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`(?m)^var version\s*=`).Match(src) {
				t.Errorf("%s declares no package-level var version for -X main.version", main)
			}
		}
	})
}

func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	t.Run("VCS data, node_modules and local key material stay out of the build context", func(t *testing.T) {
		for _, want := range []string{".git", "**/node_modules", "**/.data", "**/*.key", "**/ring.json"} {
			if !slices.Contains(patterns, want) {
				t.Errorf(".dockerignore lacks %s", want)
			}
		}
	})
	t.Run("what the build needs is not excluded", func(t *testing.T) {
		for _, p := range patterns {
			if strings.HasPrefix(p, "!") {
				continue
			}
			for _, needed := range []string{"go.mod", "go.sum", "cmd", "cmd/fieldseal/main.go", "cmd/fieldseal-injector/main.go", "crypto/seal.go", "proxy/proxy.go"} {
				if ok, _ := filepath.Match(p, needed); ok || p == "*" || p == "**" || p == "*.go" || p == "**/*.go" {
					t.Errorf(".dockerignore pattern %q excludes %s", p, needed)
				}
			}
		}
	})
}
