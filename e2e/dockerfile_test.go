package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dailyreps/backup/commands"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd   string   // upper case: FROM, RUN, COPY...
	flags []string // leading --name=value words
	args  string   // the rest, as written
	stage int      // index of the FROM it belongs to
}

// words is the instruction's arguments: the JSON array of the exec form, or
// the shell form split on spaces.
func (in instruction) words() []string {
	if strings.HasPrefix(in.args, "[") {
		var w []string
		if json.Unmarshal([]byte(in.args), &w) == nil {
			return w
		}
	}
	return strings.Fields(in.args)
}

func (in instruction) flag(name string) string {
	for _, f := range in.flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// dockerfile reads the repository's Dockerfile.
func dockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := parseDockerfile(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

func parseDockerfile(text string) ([]instruction, error) {
	var out []instruction
	stage := -1
	var pending strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if pending.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // a comment inside a continuation
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(trimmed)
		full := pending.String()
		pending.Reset()

		cmd, rest, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd)}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			var f string
			f, rest, _ = strings.Cut(rest, " ")
			in.flags = append(in.flags, f)
			rest = strings.TrimSpace(rest)
		}
		in.args = rest
		if in.cmd == "FROM" {
			stage++
		}
		if stage < 0 && in.cmd != "ARG" {
			return nil, fmt.Errorf("%s before the first FROM", in.cmd)
		}
		in.stage = stage
		out = append(out, in)
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("the Dockerfile ends inside a continuation line")
	}
	return out, nil
}

// image is what the final stage of the Dockerfile declares.
type image struct {
	binary      string            // ENTRYPOINT's program
	cmd         []string          // CMD
	env         map[string]string // ENV
	user        string
	volumes     []string
	healthcheck []string // HEALTHCHECK's exec-form command
	workdir     string
	port        string // EXPOSE
}

func finalImage(t *testing.T, ins []instruction) image {
	t.Helper()
	last := ins[len(ins)-1].stage
	img := image{env: map[string]string{}}
	for _, in := range ins {
		if in.stage != last {
			continue
		}
		switch in.cmd {
		case "ENTRYPOINT":
			if w := in.words(); len(w) > 0 {
				img.binary = w[0]
			}
		case "CMD":
			img.cmd = in.words()
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("ENV %q: use the KEY=value form", in.args)
				}
				img.env[k] = v
			}
		case "USER":
			img.user = in.args
		case "VOLUME":
			img.volumes = append(img.volumes, in.words()...)
		case "WORKDIR":
			img.workdir = in.args
		case "EXPOSE":
			img.port = in.args
		case "HEALTHCHECK":
			cmd, rest, _ := strings.Cut(in.args, " ")
			if cmd != "CMD" {
				t.Fatalf("HEALTHCHECK %q", in.args)
			}
			if !strings.HasPrefix(strings.TrimSpace(rest), "[") {
				t.Fatal("HEALTHCHECK uses the shell form: the image has no shell")
			}
			img.healthcheck = instruction{args: strings.TrimSpace(rest)}.words()
		}
	}
	return img
}

// argAfter returns the value that follows flag in args.
func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// The Dockerfile builds with the tested script and runs the binary it
// produced, as a non-root user, serving the declared volume on the exposed
// port, with a health check that needs no shell, and with the pepper
// required from the environment.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	img := finalImage(t, ins)
	final := ins[len(ins)-1].stage

	// Build: a RUN of a stage before the final one calls the script; the
	// final stage copies the binary it wrote and runs it.
	var outDir, buildStage string
	for _, in := range ins {
		if in.cmd == "FROM" && in.stage < final {
			if _, name, ok := strings.Cut(strings.ToLower(in.args), " as "); ok {
				buildStage = strings.TrimSpace(name)
			}
		}
		if in.cmd == "RUN" && in.stage < final {
			if out := argAfter(strings.Fields(in.args), "scripts/build-release.sh"); out != "" {
				outDir = out
			}
		}
	}
	if outDir == "" || buildStage == "" {
		t.Fatal("no build stage runs scripts/build-release.sh")
	}
	copied := false
	for _, in := range ins {
		if in.cmd == "COPY" && in.stage == final && in.flag("from") == buildStage {
			if w := in.words(); len(w) == 2 && w[0] == outDir+"/dailyreps-backup" && w[1] == img.binary {
				copied = true
			}
		}
	}
	if !copied || img.binary == "" {
		t.Fatalf("the final stage does not run the binary the script built (%s/dailyreps-backup as ENTRYPOINT %q)", outDir, img.binary)
	}

	// Runs as a non-root user.
	uid, _, _ := strings.Cut(img.user, ":")
	if n, err := strconv.Atoi(uid); uid == "" || uid == "root" || (err == nil && n == 0) {
		t.Fatalf("USER %q: the image must not run as root", img.user)
	}

	// Serves the volume on the exposed port, on every interface.
	dataDir := argAfter(img.cmd, "--dir")
	if len(img.cmd) == 0 || img.cmd[0] != "serve" || dataDir == "" || len(img.volumes) != 1 || img.volumes[0] != dataDir {
		t.Fatalf("CMD %v does not serve the VOLUME %v", img.cmd, img.volumes)
	}
	if addr := argAfter(img.cmd, "--http"); addr != "0.0.0.0:"+img.port {
		t.Fatalf("CMD listens on %q, EXPOSE is %q", addr, img.port)
	}
	// The data directory exists in the image, owned by the runtime user,
	// so that a new named volume starts writable.
	owned := false
	for _, in := range ins {
		if in.cmd == "COPY" && in.stage == final && in.flag("chown") == img.user {
			if w := in.words(); len(w) == 2 && w[1] == dataDir {
				owned = true
			}
		}
	}
	if !owned {
		t.Fatalf("no COPY --chown=%s creates %s", img.user, dataDir)
	}
	// Commands run with `docker exec` find the data without --dir: it is
	// pb_data beside the binary.
	if img.workdir+"/pb_data" != dataDir || !strings.HasPrefix(img.binary, img.workdir+"/") {
		t.Fatalf("WORKDIR %q, binary %q, data %q: `docker exec` commands would miss the data", img.workdir, img.binary, dataDir)
	}

	// The health check is the binary's own subcommand, on the served port.
	if len(img.healthcheck) < 2 || img.healthcheck[0] != img.binary || img.healthcheck[1] != "health" {
		t.Fatalf("HEALTHCHECK %v does not run %s health", img.healthcheck, img.binary)
	}
	if argAfter(img.healthcheck, "--url") == "" && !strings.Contains(commands.DefaultHealthURL, "127.0.0.1:"+img.port+"/") {
		t.Fatalf("HEALTHCHECK probes %s; the server listens on port %s", commands.DefaultHealthURL, img.port)
	}

	if img.env["DAILYREPS_REQUIRE_PEPPER_ENV"] != "1" {
		t.Fatal("the image does not require DAILYREPS_PEPPER from the environment")
	}
}
