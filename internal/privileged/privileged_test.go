package privileged

import (
	"testing"
)

// recorder is a testing.TB that records what Skip does with it.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = true
	if len(args) > 0 {
		r.msg, _ = args[0].(string)
	}
}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = true; r.msg = format }

func TestSkip(t *testing.T) {
	t.Setenv(Env, "")
	r := &recorder{TB: t}
	Skip(r, "no netns")
	if !r.skipped || r.failed || r.msg != "no netns" {
		t.Fatalf("without %s: skipped %v, failed %v, %q; want a skip", Env, r.skipped, r.failed, r.msg)
	}

	t.Setenv(Env, "1")
	r = &recorder{TB: t}
	Skip(r, "no netns")
	if r.skipped || !r.failed {
		t.Fatalf("with %s=1: skipped %v, failed %v; want a failure", Env, r.skipped, r.failed)
	}
}
