package main

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What can be proved about the images without a container runtime: the
// build stage's binaries, built as the Dockerfile builds them, are static
// (they run on distroless/static, which has no libc), and the final stages
// run them directly as a non-root numeric user, with no shell. docs/kubernetes.md
// ("What the image tests prove") says what is and is not covered.

// stage is one FROM ... AS name section of the Dockerfile.
type stage struct {
	name, base string
	lines      []string // instructions, continuation lines joined
}

// dockerfileStages reads the repository's Dockerfile into its stages.
func dockerfileStages(t *testing.T) map[string]*stage {
	t.Helper()
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string]*stage{}
	var cur *stage
	var pending string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if pending == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			pending += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		l, pending = pending+l, ""
		fields := strings.Fields(l)
		if strings.EqualFold(fields[0], "FROM") {
			// FROM [--platform=...] image [AS name]
			args := fields[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				args = args[1:]
			}
			cur = &stage{base: args[0]}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				cur.name = args[2]
			}
			stages[cur.name] = cur
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// instruction returns the arguments of the last instruction named ins in s.
func (s *stage) instruction(ins string) (string, bool) {
	var arg string
	var found bool
	for _, l := range s.lines {
		if k, v, _ := strings.Cut(l, " "); strings.EqualFold(k, ins) {
			arg, found = strings.TrimSpace(v), true
		}
	}
	return arg, found
}

func TestImageFinalStagesRunTheBinaryAsNonRootWithoutAShell(t *testing.T) {
	stages := dockerfileStages(t)
	for name, binary := range map[string]string{"sidecar": "/fieldseal", "injector": "/fieldseal-injector"} {
		t.Run(name, func(t *testing.T) {
			s := stages[name]
			if s == nil {
				t.Fatalf("Dockerfile has no stage %q", name)
			}
			if !strings.HasPrefix(s.base, "gcr.io/distroless/static") {
				t.Errorf("base %q: want gcr.io/distroless/static (no shell, no package manager, no libc)", s.base)
			}
			if _, ok := s.instruction("RUN"); ok {
				t.Errorf("the final stage runs a command: it would need a shell")
			}
			user, _ := s.instruction("USER")
			uid, _, _ := strings.Cut(user, ":")
			if n, err := strconv.Atoi(uid); err != nil || n == 0 {
				t.Errorf("USER %q: want a numeric non-zero uid, which Kubernetes can check against runAsNonRoot", user)
			}
			entry, _ := s.instruction("ENTRYPOINT")
			var argv []string
			if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) != 1 || argv[0] != binary {
				t.Errorf("ENTRYPOINT %s: want the exec form [%q] (no shell in between)", entry, binary)
			}
			copied, _ := s.instruction("COPY")
			if want := "--from=build /out" + binary + " " + binary; copied != want {
				t.Errorf("COPY %q: want %q, the build stage's binary and nothing else", copied, want)
			}
		})
	}
}

func TestImageBuildStageMakesStaticBinaries(t *testing.T) {
	build := dockerfileStages(t)["build"]
	if build == nil {
		t.Fatal("Dockerfile has no stage \"build\"")
	}
	// The build stage's go build flags, as the Dockerfile gives them.
	var runs []string
	for _, l := range build.lines {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			runs = append(runs, l)
		}
	}
	if len(runs) != 2 {
		t.Fatalf("build stage has %d go build commands, want 2 (sidecar, injector)", len(runs))
	}
	pkgOf := regexp.MustCompile(`-o /out/(\S+) (\./cmd/\S+)`)
	for _, run := range runs {
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w`} {
			if !strings.Contains(run, want) {
				t.Errorf("build stage command lacks %s: %s", want, run)
			}
		}
		m := pkgOf.FindStringSubmatch(run)
		if m == nil {
			t.Fatalf("cannot read the output and package of: %s", run)
		}
		name, pkg := m[1], m[2]
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -X main.version=test", "-o", out, pkg)
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", pkg, err, b)
			}
			f, err := elf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s has a program interpreter: it needs a dynamic loader that distroless/static lacks", name)
				}
				if p.Type == elf.PT_DYNAMIC {
					t.Errorf("%s has a dynamic section", name)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("%s links shared libraries %v", name, libs)
			}
			if f.Section(".debug_info") != nil || f.Section(".symtab") != nil {
				t.Errorf("%s keeps symbols or debug info despite -s -w", name)
			}
			// The binary runs as built: its version answers on stdout.
			if name == "fieldseal" {
				v, err := exec.Command(out, "version").Output()
				if err != nil || strings.TrimSpace(string(v)) != "fieldseal test" {
					t.Errorf("%s version: %q, %v", name, v, err)
				}
			}
		})
	}
}
