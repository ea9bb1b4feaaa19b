package credfile

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// parseLines is a parser for the tests: one credential per line; a line
// "bad" makes the content refused.
func parseLines(b []byte, _ time.Time) ([]string, error) {
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l == "bad" {
			return nil, errors.New("a bad line")
		}
		if l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// TestLastGoodContentStays: over random sequences of what a Secret volume
// does to the file (a new content, the same again, an empty one, a
// malformed one, the file gone, the file back), the content in use is
// always that of the last read that parsed, its generation moves exactly
// when it changes, and Status says whether the last read was good.
func TestLastGoodContentStays(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 11))
		path := filepath.Join(t.TempDir(), "creds")
		f := New("test", path, parseLines)
		var want []string
		var wantGen uint64
		lastGood := ""
		good, haveContent := false, false
		now := time.Unix(1000, 0)
		for step := range 60 {
			now = now.Add(time.Second)
			var (
				content string
				missing bool
			)
			switch rng.IntN(6) {
			case 0:
				content = "a\nb" + strings.Repeat("x", rng.IntN(3))
			case 1:
				content = strings.Join(want, "\n") // the same again
			case 2:
				content = "" // every credential revoked
			case 3:
				content = "a\nbad"
			case 4:
				missing = true
			default:
				content = "c" + strings.Repeat("y", rng.IntN(2))
			}
			if missing {
				_ = os.Remove(path)
			} else if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			changed, err := f.Load(now)
			parsed, perr := parseLines([]byte(content), now)
			switch {
			case missing || perr != nil:
				if err == nil || changed {
					t.Fatalf("seed %d step %d: a missing or malformed file: changed %v, err %v", seed, step, changed, err)
				}
				good = false
			default:
				if err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
				if wantChanged := !haveContent || content != lastGood; changed != wantChanged {
					t.Fatalf("seed %d step %d: content %q after %q: changed %v, want %v", seed, step, content, lastGood, changed, wantChanged)
				}
				if changed {
					wantGen++
				}
				want, lastGood, haveContent, good = parsed, content, true, true
			}
			got, gen, ok := f.Current()
			if ok != haveContent || strings.Join(got, "\n") != strings.Join(want, "\n") || gen != wantGen {
				t.Fatalf("seed %d step %d: in use %q gen %d ok %v, want %q gen %d ok %v", seed, step, got, gen, ok, want, wantGen, haveContent)
			}
			if st := f.Status(); st.OK != good || !st.ReadAt.Equal(now) {
				t.Fatalf("seed %d step %d: status %+v, want ok %v read at %v", seed, step, st, good, now)
			}
			if err != nil && strings.Contains(err.Error(), content) && content != "" && !missing {
				t.Fatalf("seed %d step %d: the error %q holds the content", seed, step, err)
			}
		}
	}
}

// TestLoadIfDue reads only once the interval has passed, and one caller at
// a time: of many callers at once, one reads.
func TestLoadIfDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(path, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	f := New("test", path, parseLines)
	t0 := time.Unix(1000, 0)
	if _, err := f.Load(t0); err != nil {
		t.Fatal(err)
	}
	if attempted, _, _ := f.LoadIfDue(t0.Add(5*time.Second), 10*time.Second); attempted {
		t.Fatal("read before the interval passed")
	}
	if err := os.WriteFile(path, []byte("b"), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var attempts, changes int
	for range 16 {
		wg.Go(func() {
			attempted, changed, err := f.LoadIfDue(t0.Add(10*time.Second), 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if attempted {
				attempts++
			}
			if changed {
				changes++
			}
		})
	}
	wg.Wait()
	if attempts != 1 || changes != 1 {
		t.Fatalf("16 callers at once: %d reads, %d changes; want 1 and 1", attempts, changes)
	}
	if got, gen, _ := f.Current(); strings.Join(got, "") != "b" || gen != 2 {
		t.Fatalf("in use %q gen %d, want b and 2", got, gen)
	}
}
