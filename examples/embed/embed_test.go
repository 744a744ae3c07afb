package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

const examples = "github.com/roadrunner-wasm/roadrunner/examples/"

// run builds the program, as a user would with go build, and runs it with
// modules (each copied under its function's name) and stdin, in a cache
// directory of the test's own. It returns stdout, stderr and the exit error.
func run(t *testing.T, stdin string, guests ...string) (stdout, stderr string, err error) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "embed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	args := make([]string, len(guests))
	for i, g := range guests {
		args[i] = filepath.Join(dir, g+".wasm")
		if err := os.WriteFile(args[i], wasmbuild.ModuleForTest(t, examples+g), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestEmbed runs the program on the example pipeline: the consumer's verdict
// must come out on stdout, byte for byte, and every hop on stderr.
func TestEmbed(t *testing.T) {
	stdout, stderr, err := run(t, "hello, roadrunner", "producer", "transform", "consumer")
	if err != nil {
		t.Fatalf("embed: %v\nstderr:\n%s", err, stderr)
	}
	// CRC32C("hello, roadrunner"), computed apart from the guests.
	const want = `{"function":"consumer","bytes":17,"crc32c":"0xd6d3e26f","hops":2,"verified":true}`
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	const hops = "hop http -> producer over http: 17 bytes, ok\n" +
		"hop producer -> transform over memory: 33 bytes, ok\n" +
		"hop transform -> consumer over memory: 33 bytes, ok\n"
	if stderr != hops {
		t.Errorf("stderr = %q, want %q", stderr, hops)
	}
}

// TestEmbedFailure invokes transform with a payload that is not a pipeline
// message: its handler fails, and the program must say so and exit 1.
func TestEmbedFailure(t *testing.T) {
	stdout, stderr, err := run(t, "not a message", "transform", "consumer")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("embed: %v, want exit status 1\nstderr:\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	for _, want := range []string{
		"hop http -> transform over http: 13 bytes, receiver_failed\n",
		"embed: function transform: ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
