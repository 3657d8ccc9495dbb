package main

// The reliability suite of the pretraining command: flags are rejected
// before any work with a message naming the flag; a resume that would
// change the run is refused; a run killed at any point (SIGKILL, also in
// the middle of writing its checkpoint) and resumed ends with the same
// encoder, checkpoint tensors and metrics, bit for bit, as an
// uninterrupted run; and a soak of many killed-and-resumed runs loses
// nothing.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/ssl"
)

var soakRuns = flag.Int("soak", 1, "runs of TestSoak, each killed at random points and resumed until done")

// tiny is the run the kill tests repeat: 3 epochs of 2 steps of SimSiam
// on a narrow ResNet-18, a checkpoint after every epoch.
func tiny(dir string, extra ...string) []string {
	return append([]string{"-method", "simsiam", "-backbone", "resnet18-w16", "-train", "32", "-test", "32",
		"-batch", "16", "-epochs", "3", "-knn-k", "20", "-workers", "2", "-out", dir}, extra...)
}

// TestFlagsRejected runs the command's entry point with bad flags: each is
// refused as a usage error (exit status 2) naming the flag, before any
// data is loaded (nothing is printed on stdout).
func TestFlagsRejected(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-lr", "-1"}, `invalid value "-1" for flag -lr: must be a finite number ≥ 0`},
		{[]string{"-lr", "NaN"}, `invalid value "NaN" for flag -lr: must be a finite number ≥ 0`},
		{[]string{"-lr", "Inf"}, `invalid value "+Inf" for flag -lr: must be a finite number ≥ 0`},
		{[]string{"-knn-k", "-1"}, `invalid value "-1" for flag -knn-k: must be an integer ≥ 1`},
		{[]string{"-knn-k", "0"}, `invalid value "0" for flag -knn-k: must be an integer ≥ 1`},
		{[]string{"-train", "-1"}, `invalid value "-1" for flag -train: must be an integer ≥ 0`},
		{[]string{"-test", "-1"}, `invalid value "-1" for flag -test: must be an integer ≥ 0`},
		{[]string{"-views", "-2"}, `invalid value "-2" for flag -views: must be 0 (the method's default) or at least 2 views`},
		{[]string{"-views", "1", "-method", "fastsiam"}, `invalid value "1" for flag -views: must be 0 (the method's default) or at least 2 views`},
		{[]string{"-views", "3"}, `invalid value "3" for flag -views: simsiam (-method) takes exactly 2 views; -views applies only to fastsiam and disiam+`},
		{[]string{"-views", "3", "-chain", "simclr:1,disiam"}, `invalid value "3" for flag -views: simclr, disiam (-chain) take exactly 2 views`},
		{[]string{"-chain", "simclr:10", "-epochs", "1"}, `invalid value "simclr:10" for flag -chain: the stages take 10 epochs, more than -epochs 1`},
		{[]string{"-chain", "simclr:2,disiam", "-epochs", "2"}, `invalid value "simclr:2,disiam" for flag -chain: the other stages leave no epochs of -epochs 2 for stage "disiam"`},
		{[]string{"-chain", "simclr:1,nosuch"}, `invalid value "simclr:1,nosuch" for flag -chain: unknown method "nosuch"`},
		{[]string{"-method", "nosuch"}, `invalid value "nosuch" for flag -method: unknown method "nosuch"`},
		{[]string{"-data", "synthetic,seed=x"}, `invalid value "synthetic,seed=x" for flag -data: dataset: synthetic,seed=x: option seed="x" is not a non-negative integer`},
		{[]string{"-data", "cifar10"}, `for flag -data: dataset: cifar10: cifar10 needs a directory: cifar10:DIR`},
		{[]string{"-epochs", "0"}, `invalid value "0" for flag -epochs: must be an integer ≥ 1`},
		{[]string{"-batch", "0"}, `invalid value "0" for flag -batch: must be an integer ≥ 1`},
		{[]string{"-accumulate", "3", "-batch", "32"}, `invalid value "3" for flag -accumulate: must divide -batch 32 into equal micro-batches`},
		{[]string{"-resume"}, `invalid value "true" for flag -resume: needs -out, the folder of the run to continue`},
		{[]string{"-switch-patience", "2"}, `invalid value "2" for flag -switch-patience: applies only to a -chain of at least two stages`},
		{[]string{"-switch-threshold", "NaN"}, `invalid value "NaN" for flag -switch-threshold: must be a finite number ≥ 0`},
		{[]string{"-knn-every", "-1"}, `invalid value "-1" for flag -knn-every: must be an integer ≥ 0`},
		{[]string{"-checkpoint-every", "-1"}, `invalid value "-1" for flag -checkpoint-every: must be an integer ≥ 0`},
		{[]string{"-workers", "-1"}, `invalid value "-1" for flag -workers: must be an integer ≥ 0`},
		{[]string{"-backbone", "resnet19"}, `invalid value "resnet19" for flag -backbone: backbone: unknown architecture "resnet19"`},
		{[]string{"-assistant", "resnet18-w0"}, `for flag -assistant:`},
		{[]string{"-train", "x"}, `invalid value "x" for flag -train: parse error`},
		{[]string{"-frob"}, `flag provided but not defined: -frob`},
		{[]string{"-epochs", "2", "extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if code := runner.ExitCode(err, io.Discard, "pretrain"); code != runner.ExitUsage {
				t.Errorf("exit status %d, want %d", code, runner.ExitUsage)
			}
			if stdout.Len() > 0 {
				t.Errorf("work started before the flags were rejected: %q", stdout.String())
			}
		})
	}
	// Every bad flag is reported at once, one line each.
	err := run(context.Background(), []string{"-lr", "-1", "-knn-k", "-1", "-train", "-1"}, io.Discard, io.Discard)
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("three bad flags: %v", err)
	}
}

// TestFlagsAccepted checks settings the rules must let through.
func TestFlagsAccepted(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-views", "3", "-method", "fastsiam"},
		{"-views", "6", "-chain", "simclr:1,disiam+"},
		{"-chain", "simclr:1,disiam:1", "-epochs", "3", "-switch-patience", "2"},
		{"-accumulate", "4", "-batch", "32"},
		{"-train", "0", "-test", "0", "-knn-every", "0", "-lr", "0.06"},
		{"-data", "synthetic,seed=7,train=100", "-out", "x", "-resume"},
	} {
		if _, err := flags(args, io.Discard); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	c, err := flags([]string{"-out", "x", "-workers", "3", "-lr", "1e6"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"-out", "-workers", "-resume", "-checkpoint-every"} {
		if _, ok := c.identity[k]; ok {
			t.Errorf("identity holds %s, which does not change the numbers", k)
		}
	}
	if c.identity["-lr"] != "1e+06" || c.identity["-data"] != "synthetic" || c.identity["-epochs"] != "3" {
		t.Errorf("identity %v", c.identity)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the kill tests stop and kill processes through /proc (Linux)")
	}
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "pretrain-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pretrain")
		out, err := exec.Command(gobin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running command.
type proc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func start(t *testing.T, bin string, args []string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the end and fails the test unless the command succeeded.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatalf("%v: %v\n%s", p.cmd.Args, p.err, p.out.String())
	}
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// killAfter kills p after d unless it has ended; it reports whether it
// killed it.
func (p *proc) killAfter(d time.Duration) bool {
	select {
	case <-p.done:
		return false
	case <-time.After(d):
	}
	p.kill()
	return p.err != nil
}

// killInWrite stops p every few milliseconds and kills it when it is
// caught with a temporary file in dir whose name starts with prefix and
// that was not there when it started: in the middle of writing its
// checkpoint (prefix ".checkpoint"), metrics or encoder (prefix ".").
// It reports whether it killed p (false: p ended first).
func (p *proc) killInWrite(t *testing.T, dir, prefix string, rng *rand.Rand) bool {
	old := tmpFiles(dir)
	pid := p.cmd.Process.Pid
	for {
		select {
		case <-p.done:
			return false
		case <-time.After(time.Duration(1+rng.IntN(8)) * time.Millisecond):
		}
		if p.cmd.Process.Signal(syscall.SIGSTOP) != nil {
			continue
		}
		for deadline := time.Now().Add(time.Second); !isStopped(pid) && !p.exited() && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
		for name := range tmpFiles(dir) {
			if !old[name] && strings.HasPrefix(name, prefix) {
				t.Logf("killed while writing %s", name)
				p.kill()
				return true
			}
		}
		p.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// isStopped reports whether process pid is stopped (/proc/PID/stat state
// T).
func isStopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}

// tmpFiles returns the temporary files of atomic writes in dir.
func tmpFiles(dir string) map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
			m[e.Name()] = true
		}
	}
	return m
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// result is what a finished run leaves: the encoder file, the checkpoint's
// tensors (weights, buffers, optimizer state) and the metrics without
// their timings.
type result struct {
	encoder []byte
	tensors map[string]safetensors.Tensor
	metrics []map[string]any
}

func readResult(t *testing.T, dir string) result {
	t.Helper()
	var r result
	var err error
	if r.encoder, err = os.ReadFile(filepath.Join(dir, ssl.EncoderFile)); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, ssl.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	r.tensors = map[string]safetensors.Tensor{}
	for _, n := range f.Names() {
		r.tensors[n], _ = f.Get(n)
	}
	mf, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	sc := bufio.NewScanner(mf)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("metrics: %v", err)
		}
		delete(rec, "samples_per_s")
		delete(rec, "seconds")
		r.metrics = append(r.metrics, rec)
	}
	return r
}

// same fails the test unless got equals want bit for bit.
func same(t *testing.T, what string, got, want result) {
	t.Helper()
	if !bytes.Equal(got.encoder, want.encoder) {
		t.Errorf("%s: encoder differs from the uninterrupted run's", what)
	}
	if len(got.tensors) != len(want.tensors) {
		t.Errorf("%s: checkpoint has %d tensors, want %d", what, len(got.tensors), len(want.tensors))
	}
	for n, w := range want.tensors {
		g, ok := got.tensors[n]
		if !ok || g.Dtype != w.Dtype || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: checkpoint tensor %s differs", what, n)
			break
		}
	}
	gm, _ := json.Marshal(got.metrics)
	wm, _ := json.Marshal(want.metrics)
	if !bytes.Equal(gm, wm) {
		t.Errorf("%s: metrics differ\ngot  %s\nwant %s", what, gm, wm)
	}
	if len(got.metrics) != 3 {
		t.Errorf("%s: %d epoch records, want 3", what, len(got.metrics))
	}
}

var (
	refOnce sync.Once
	ref     result
	refTime time.Duration
)

// reference runs the tiny run uninterrupted once.
func reference(t *testing.T) (result, time.Duration) {
	t.Helper()
	bin := binary(t)
	refOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pretrain-ref-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		begin := time.Now()
		p := start(t, bin, tiny(dir))
		p.wait(t)
		refTime = time.Since(begin)
		ref = readResult(t, dir)
	})
	if ref.encoder == nil {
		t.Fatal("no reference run")
	}
	return ref, refTime
}

// TestKillAndResume kills a run after its first epoch, checks that a
// resume with any setting changed is refused (naming the flag) without
// harming the checkpoint, then kills it again in the middle of writing a
// file, resumes it to the end and compares everything with an
// uninterrupted run. A finished run resumed is reported complete, and
// resuming it with more epochs is refused.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the tiny run several times (about 20 s)")
	}
	bin := binary(t)
	want, total := reference(t)
	t.Logf("uninterrupted run: %v", total)
	begin := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()

	// Killed some time after its first checkpoint.
	p := start(t, bin, tiny(dir))
	for !exists(filepath.Join(dir, ssl.CheckpointFile)) && !p.exited() {
		time.Sleep(5 * time.Millisecond)
	}
	if !p.killAfter(time.Duration(rng.IntN(300)) * time.Millisecond) {
		t.Fatalf("the run ended before it was killed:\n%s", p.out.String())
	}
	ckpt, err := os.ReadFile(filepath.Join(dir, ssl.CheckpointFile))
	if err != nil {
		t.Fatalf("no checkpoint after the first epoch: %v\n%s", err, p.out.String())
	}

	// Resuming with a setting changed is refused, naming it.
	refused := []struct {
		args []string
		want string
	}{
		{[]string{"-train", "16"}, `was written by a run with -train = "32"; this run has -train = "16" (resume with the original settings, or start afresh in another directory)`},
		{[]string{"-data", "synthetic,seed=7"}, `was written by a run with -data = "synthetic"; this run has -data = "synthetic,seed=7"`},
		{[]string{"-lr", "1e6"}, `was written by a run with -lr = "0"; this run has -lr = "1e+06"`},
		{[]string{"-epochs", "4"}, `was written by a run of simsiam:3 epochs; this run asks for simsiam:4: a run cannot be continued with another number of epochs, since its learning-rate schedule (the cosine decay) depends on the epoch count`},
	}
	for _, tc := range refused {
		args := append(tiny(dir, "-resume"), tc.args...)
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resume with %q: %v, want an error containing %q", tc.args, err, tc.want)
		}
		if code := runner.ExitCode(err, io.Discard, "pretrain"); code != runner.ExitFailure {
			t.Errorf("resume with %q: exit status %d, want %d", tc.args, code, runner.ExitFailure)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(dir, ssl.CheckpointFile)); !bytes.Equal(now, ckpt) {
		t.Fatal("a refused resume changed the checkpoint")
	}

	t.Logf("killed after the first checkpoint, 4 resumes refused: %v", time.Since(begin))
	// Killed while writing, until one kill lands in a write; then resumed
	// to the end.
	inWrite := 0
	for i := 0; ; i++ {
		p := start(t, bin, tiny(dir, "-resume"))
		if inWrite > 0 {
			p.wait(t)
			break
		}
		if p.killInWrite(t, dir, "."+ssl.CheckpointFile, rng) {
			inWrite++
			continue
		}
		p.wait(t)
		t.Fatalf("the run ended before a kill landed in the middle of a write (resume %d)", i)
	}
	same(t, "killed and resumed", readResult(t, dir), want)
	if left := tmpFiles(dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	t.Logf("killed in a checkpoint write and resumed: %v", time.Since(begin))
	// A finished run: resumed, it is complete; its encoder is written
	// again if it went missing (a kill between the last checkpoint and
	// the export); more epochs are refused.
	os.Remove(filepath.Join(dir, ssl.EncoderFile))
	var out bytes.Buffer
	if err := run(context.Background(), tiny(dir, "-resume"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "the run in "+dir+" is complete (3 epochs): nothing to train") {
		t.Errorf("complete run resumed: %s", out.String())
	}
	same(t, "resumed when complete", readResult(t, dir), want)
	err = run(context.Background(), tiny(dir, "-resume", "-epochs", "8"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "this run asks for simsiam:8: a run cannot be continued with another number of epochs") {
		t.Errorf("finished run resumed with -epochs 8: %v", err)
	}
}

// TestBinaryExitStatus checks the statuses the built command exits with:
// 2 for a rejected flag, with the message on stderr.
func TestBinaryExitStatus(t *testing.T) {
	bin := binary(t)
	cmd := exec.Command(bin, "-lr", "-1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != runner.ExitUsage {
		t.Fatalf("-lr -1: %v, want exit status %d", err, runner.ExitUsage)
	}
	if want := "pretrain: invalid value \"-1\" for flag -lr: must be a finite number ≥ 0\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

// TestSoak runs the tiny run -soak times (go test -args -soak 20 for a
// longer soak), each killed at random points
// (and in writes) and resumed until it finishes: every one ends equal to
// the uninterrupted run.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	bin := binary(t)
	want, total := reference(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range *soakRuns {
		dir := t.TempDir()
		kills := 0
		for {
			p := start(t, bin, tiny(dir, "-resume"))
			// The first kill lands in a write, the next ones at random
			// times; after four the run is left to finish.
			var killed bool
			switch {
			case kills == 0:
				time.Sleep(time.Duration(rng.Int64N(int64(total / 2))))
				killed = p.killInWrite(t, dir, ".", rng)
			case kills < 4:
				killed = p.killAfter(time.Duration(rng.Int64N(int64(total / 2))))
			}
			if !killed {
				p.wait(t)
				break
			}
			kills++
		}
		t.Logf("soak run %d: %d kills", i, kills)
		same(t, fmt.Sprintf("soak run %d", i), readResult(t, dir), want)
	}
}
