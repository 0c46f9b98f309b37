package e2e

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// releaseVersion is the VERSION the release build is stamped with.
const releaseVersion = "e2e-release"

var (
	releaseOnce sync.Once
	releaseDir  string // removed by TestMain
	releasePath string
	releaseErr  error
)

// releaseBinary builds the server as the Dockerfile does: scripts/build-release.sh
// run in a copy of the Docker build context (the repository minus what
// .dockerignore leaves out), so that a file the build needs but the context
// lacks fails here rather than in the image build. -trimpath makes the
// compile cache independent of the directory, so only the link is redone.
func releaseBinary(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the release image is linux-only")
	}
	releaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dailyreps-release-")
		if err != nil {
			releaseErr = err
			return
		}
		releaseDir = dir
		buildContext := filepath.Join(dir, "context")
		if releaseErr = copyBuildContext("..", buildContext); releaseErr != nil {
			return
		}
		releasePath, releaseErr = runBuildScript(buildContext, filepath.Join(dir, "out"))
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return releasePath
}

func runBuildScript(buildContext, out string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(buildContext, "scripts", "build-release.sh"), out)
	// GOPROXY=off: the build must need nothing beyond the module cache.
	cmd.Env = append(os.Environ(), "VERSION="+releaseVersion, "GOPROXY=off", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/build-release.sh: %v\n%s", err, b)
	}
	return filepath.Join(out, "dailyreps-backup"), nil
}

// copyBuildContext copies the files of root that .dockerignore keeps.
func copyBuildContext(root, dst string) error {
	text, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return err
	}
	ignore, err := parseDockerignore(string(text))
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore.excludes(rel) {
			if d.IsDir() && !ignore.hasExceptions() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// dockerignore holds .dockerignore rules, matched as Docker does: a rule
// matches a path or any of its parent directories, "**" spans directories,
// and the last matching rule wins ("!" re-includes).
type dockerignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(text string) (*dockerignore, error) {
	d := &dockerignore{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negate := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(strings.TrimPrefix(line, "!"))), "/")
		re, err := regexp.Compile("^" + globToRegexp(line) + "$")
		if err != nil {
			return nil, fmt.Errorf(".dockerignore %q: %v", line, err)
		}
		d.rules = append(d.rules, ignoreRule{re, negate})
	}
	return d, nil
}

func globToRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

func (d *dockerignore) excludes(path string) bool {
	excluded := false
	for _, r := range d.rules {
		for p := path; ; {
			if r.re.MatchString(p) {
				excluded = !r.negate
				break
			}
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return excluded
}

func (d *dockerignore) hasExceptions() bool {
	for _, r := range d.rules {
		if r.negate {
			return true
		}
	}
	return false
}

// TestDockerignoreMatching pins the matcher to Docker's behaviour for the
// kinds of rules .dockerignore uses.
func TestDockerignoreMatching(t *testing.T) {
	d, err := parseDockerignore("# comment\n.git\n**/pb_data\n*.test\nweb\n/docs\n!docs/keep.md\n")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		".git": true, ".git/HEAD": true, "pb_data": true, "pb_data/data.db": true, "e2e/pb_data/x": true,
		"client.test": true, "pkg/client.test": false, "web/node_modules/a.js": true, "webby.go": false,
		"docs/API.md": true, "docs/keep.md": false, "main.go": false, "pb_public/app.js": false,
	} {
		if got := d.excludes(path); got != want {
			t.Errorf("excludes(%q) = %v, want %v", path, got, want)
		}
	}
}

// The release binary is static: no ELF interpreter and no shared libraries,
// so it runs on an image without a libc. It carries no path of the machine
// that built it.
func TestReleaseBinaryIsStatic(t *testing.T) {
	bin := releaseBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the release binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Fatalf("the release binary needs shared libraries %v (%v)", libs, err)
	}
	abs, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), abs) || strings.Contains(string(b), filepath.Dir(filepath.Dir(bin))) {
		t.Fatal("the release binary holds a build directory path (-trimpath missing)")
	}
}
