package limiter

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// A key that is being refused keeps its empty bucket through a flood of
// fresh keys many times the bound: otherwise the flood would hand it a new
// burst.
func TestRefusingBucketSurvivesFlood(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(5, 2*time.Second, 1000, c.now)
	for range 5 {
		k.Allow("attacker")
	}
	if ok, _ := k.Allow("attacker"); ok {
		t.Fatal("the attacker's bucket is not empty")
	}
	for i := range 20_000 {
		k.Allow(fmt.Sprint("flood-", i))
		if i%100 == 0 {
			c.t = c.t.Add(time.Millisecond)
		}
	}
	if n := k.Len(); n > 1000 {
		t.Fatalf("%d buckets held, bound is 1000", n)
	}
	if ok, _ := k.Check("attacker"); ok {
		t.Fatal("the flood reset the attacker's bucket")
	}
}

// Keys used once are dropped before keys that used more of their burst.
func TestEvictsLeastUsedFirst(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(5, time.Hour, 100, c.now)
	for range 3 {
		k.Allow("regular")
	}
	for i := range 1000 {
		k.Allow(fmt.Sprint("once-", i))
	}
	k.Allow("regular")
	k.Allow("regular")
	if ok, _ := k.Allow("regular"); ok {
		t.Fatal("the regular key got a fresh bucket: it was evicted before keys seen once")
	}
}

// The bound the API uses holds under a flood of 200,000 keys, and what the
// buckets take stays modest.
func TestMemoryBoundedAtProductionSize(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100,000 buckets")
	}
	const bound = 100_000
	c := &clock{t: time.Unix(1000, 0)}
	k := New(5, 2*time.Second, bound, c.now)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 2 * bound {
		k.Allow(fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff))
		if n := len(k.buckets); n > bound {
			t.Fatalf("%d buckets held after %d keys, bound is %d", n, i+1, bound)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d buckets hold %d KiB (%d bytes each)", k.Len(), held>>10, held/int64(max(k.Len(), 1)))
	if held > 64<<20 {
		t.Fatalf("buckets hold %d MiB", held>>20)
	}
	runtime.KeepAlive(k)
}

// Run with -race: the buckets are shared by every request.
func TestConcurrentUse(t *testing.T) {
	k := New(3, time.Second, 50, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprint(g, "-", i%80)
				k.Allow(key)
				k.Check(key)
			}
		})
	}
	wg.Wait()
	if n := k.Len(); n > 50 {
		t.Fatalf("%d buckets held, bound is 50", n)
	}
}

// Retry-After is the time until one whole token is back, never under a
// second.
func TestWaitUntilNextToken(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(2, 10*time.Second, 10, c.now)
	k.Allow("a")
	k.Allow("a")
	for _, step := range []struct {
		advance, want time.Duration
	}{{0, 10 * time.Second}, {4 * time.Second, 6 * time.Second}, {5500 * time.Millisecond, 500 * time.Millisecond}} {
		c.t = c.t.Add(step.advance)
		ok, wait := k.Check("a")
		if ok {
			t.Fatal("a token is back too early")
		}
		// Never short of the true wait, and off by float rounding at most.
		if want := max(step.want, time.Second); wait < want || wait > want+time.Microsecond {
			t.Fatalf("after %v more: wait %v, want %v", step.advance, wait, want)
		}
	}
}

// Whole seconds stay whole: float noise must not push a wait over the next
// second, which Retry-After would round up to.
func TestWaitHasNoFloatNoise(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(10, 30*time.Second, 10, c.now)
	for range 10 {
		k.Allow("a")
	}
	for _, want := range []time.Duration{30 * time.Second, 20 * time.Second, 10 * time.Second} {
		if _, wait := k.Check("a"); wait != want {
			t.Fatalf("wait %v, want %v", wait, want)
		}
		c.t = c.t.Add(10 * time.Second)
	}
}

func TestNilIsOff(t *testing.T) {
	var k *Keyed
	if !k.Off() || k.Len() != 0 {
		t.Fatal("a nil limiter is not off and empty")
	}
	if ok, _ := k.Check("a"); !ok {
		t.Fatal("a nil limiter refused")
	}
}
