package imagebuild

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// dockerfileStages returns the Dockerfile's instructions, continuation
// lines joined and comments dropped, one slice per stage.
func dockerfileStages(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], l)
		}
	}
	return stages
}

func instruction(stage []string, keyword string) string {
	for _, l := range slices.Backward(stage) {
		if rest, ok := strings.CutPrefix(l, keyword+" "); ok {
			return rest
		}
	}
	return ""
}

// `make image` and `docker build` give images that run alike: the same
// user, entrypoint and working directory, and a binary built with the same
// flags.
func TestOperatorImageMatchesDockerfile(t *testing.T) {
	stages := dockerfileStages(t)
	if len(stages) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a builder and a final one", len(stages))
	}
	final := stages[len(stages)-1]
	if got := instruction(final, "USER"); got != OperatorUser {
		t.Errorf("Dockerfile USER %q, make image uses %q", got, OperatorUser)
	}
	var entrypoint []string
	if err := json.Unmarshal([]byte(instruction(final, "ENTRYPOINT")), &entrypoint); err != nil {
		t.Fatalf("the Dockerfile's ENTRYPOINT is not a JSON array: %v", err)
	}
	if !slices.Equal(entrypoint, []string{OperatorEntrypoint}) {
		t.Errorf("Dockerfile ENTRYPOINT %q, make image uses [%q]", entrypoint, OperatorEntrypoint)
	}
	if got := instruction(final, "WORKDIR"); got != OperatorWorkdir {
		t.Errorf("Dockerfile WORKDIR %q, make image uses %q", got, OperatorWorkdir)
	}
	if got := instruction(final, "COPY"); !strings.HasSuffix(got, " "+OperatorEntrypoint) {
		t.Errorf("the Dockerfile copies the binary with %q, not to %s", got, OperatorEntrypoint)
	}

	var build string
	for _, l := range stages[0] {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = strings.ReplaceAll(l, `"`, "") // the shell's quotes
		}
	}
	if build == "" {
		t.Fatal("the Dockerfile's builder stage has no RUN ... go build")
	}
	for _, want := range append([]string{"CGO_ENABLED=0", "./cmd"}, managerBuildFlags...) {
		if !strings.Contains(build, want) {
			t.Errorf("the Dockerfile builds with %q; make image builds with %s", build, want)
		}
	}
}

// `docker build` has every source the manager is built from: each of the
// module's directories that ./cmd depends on is in the Docker context
// (.dockerignore lets it through) and copied by the builder stage. A
// package added under a new top-level directory, as internal/ once was,
// fails here instead of in a Docker build no test runs.
func TestDockerfileCopiesEveryPackageTheManagerImports(t *testing.T) {
	root := testenv.RepoRoot()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd: %v", err)
	}
	var copied []string
	for _, l := range dockerfileStages(t)[0] {
		if rest, ok := strings.CutPrefix(l, "COPY "); ok {
			f := strings.Fields(rest)
			for _, src := range f[:len(f)-1] {
				copied = append(copied, strings.TrimSuffix(src, "/"))
			}
		}
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "!"); ok {
			kept = append(kept, strings.TrimSuffix(rest, "/"))
		}
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		if !slices.Contains(copied, top) {
			t.Errorf("the manager imports %s, and the Dockerfile copies no %s/ (COPY of %v)", rel, top, copied)
		}
		if !slices.Contains(kept, top) {
			t.Errorf("the manager imports %s, and .dockerignore leaves %s/ out of the context", rel, top)
		}
	}
}

// The tarball holds one image, tagged as asked, whose only layer is the
// binary at /manager, executable and owned by root, and whose config runs
// it as 65532; the same binary always gives the same image.
func TestOperatorImage(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "manager")
	content := []byte("\x7fELF not really a binary")
	if err := os.WriteFile(binary, content, 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := Operator(binary)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	if err := WriteTarball(out, "ingresse-operator:test", img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("ingresse-operator:test")
	read, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("reading the tarball back: %v", err)
	}
	cf, err := read.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/manager"}) || cf.Config.WorkingDir != "/" {
		t.Errorf("config: os %q user %q entrypoint %q workdir %q", cf.OS, cf.Config.User, cf.Config.Entrypoint, cf.Config.WorkingDir)
	}
	layers, err := read.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		got, _ := io.ReadAll(tr)
		if !bytes.Equal(got, content) || h.Mode != 0o755 || h.Uid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mode %o uid %d mtime %s, content equal %t", h.Name, h.Mode, h.Uid, h.ModTime, bytes.Equal(got, content))
		}
	}
	if !slices.Equal(names, []string{"manager"}) {
		t.Errorf("the layer holds %q, want only manager", names)
	}

	again, err := Operator(binary)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := ShortDigest(img)
	d2, _ := ShortDigest(again)
	if d1 != d2 || len(d1) != 12 {
		t.Errorf("the same binary gave the images %s and %s", d1, d2)
	}
}

// Files in nested directories get their parents, once each, before them.
func TestLayerAddsParentDirectories(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := layer([]File{{Path: "/usr/local/bin/b", Src: src, Mode: 0o755}, {Path: "/usr/local/a", Src: src, Mode: 0o644}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	want := []string{"usr/", "usr/local/", "usr/local/a", "usr/local/bin/", "usr/local/bin/b"}
	if !slices.Equal(names, want) {
		t.Errorf("layer entries %q, want %q", names, want)
	}
	if _, err := layer([]File{{Path: "relative", Src: src}}); err == nil {
		t.Error("a relative path in the image was accepted")
	}
}
