//go:build unix

package safetensors

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A process killed while WriteFile writes leaves its temporary file; the
// next WriteFile of the same path removes it. The child is this test
// binary, killed with SIGKILL once its temporary file exists.
func TestWriteFileAfterKill(t *testing.T) {
	if path := os.Getenv("SAFETENSORS_KILL_CHILD"); path != "" {
		testHookWriting = func(tmp string) {
			fmt.Println(tmp)
			time.Sleep(time.Minute) // killed here
		}
		WriteFile(path, sample(t))
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := WriteFile(path, sample(t)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileAfterKill$")
	cmd.Env = append(os.Environ(), "SAFETENSORS_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %v", err)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	tmp := strings.TrimSpace(line)
	if _, err := os.Stat(tmp); err != nil || !strings.HasPrefix(filepath.Base(tmp), ".ckpt.safetensors.tmp-") {
		t.Fatalf("the killed write left no temporary file %q: %v", tmp, err)
	}
	// The old checkpoint is intact.
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, sample(t)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only ckpt.safetensors", names)
	}
}

func TestSyncDir(t *testing.T) {
	if err := syncDir(t.TempDir()); err != nil {
		t.Error(err)
	}
	if err := syncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("syncing a missing directory: no error")
	}
}
