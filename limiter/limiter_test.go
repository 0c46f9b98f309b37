package limiter

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBurstThenRefill(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(5, 2*time.Second, 100, c.now)
	for i := range 5 {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatalf("request %d refused inside the burst", i+1)
		}
	}
	ok, wait := k.Allow("a")
	if ok || wait != 2*time.Second {
		t.Fatalf("6th = %v, wait %v; want refused, 2s", ok, wait)
	}
	if ok, _ := k.Allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	c.t = c.t.Add(2 * time.Second)
	if ok, _ := k.Allow("a"); !ok {
		t.Fatal("no token after one refill interval")
	}
}

func TestCheckDoesNotTake(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(1, time.Minute, 100, c.now)
	for range 3 {
		if ok, _ := k.Check("a"); !ok {
			t.Fatal("Check refused a fresh key")
		}
	}
	k.Allow("a")
	if ok, wait := k.Check("a"); ok || wait != time.Minute {
		t.Fatalf("Check = %v, %v; want refused for a minute", ok, wait)
	}
}

func TestOff(t *testing.T) {
	for _, k := range []*Keyed{nil, New(0, time.Second, 10, nil), New(5, 0, 10, nil)} {
		for range 100 {
			if ok, _ := k.Allow("a"); !ok {
				t.Fatal("an off limiter refused")
			}
		}
	}
}

// A flood of distinct keys keeps the map bounded.
func TestBoundedUnderFlood(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(5, 2*time.Second, 1000, c.now)
	for i := range 100_000 {
		k.Allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		if i%1000 == 0 {
			c.t = c.t.Add(time.Millisecond)
		}
	}
	if n := k.Len(); n > 1000 {
		t.Fatalf("%d buckets held, bound is 1000", n)
	}
}

// Idle buckets are the first to go, so active clients keep their state.
func TestEvictsIdleFirst(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := New(2, time.Second, 10, c.now)
	k.Allow("busy")
	k.Allow("busy")
	for i := range 9 {
		k.Allow(fmt.Sprint("idle", i))
	}
	c.t = c.t.Add(1500 * time.Millisecond) // idle buckets refill; busy has 1.5 of 2
	k.Allow("new")
	if ok, _ := k.Check("busy"); !ok {
		t.Fatal("busy should have a token")
	}
	k.Allow("busy")
	if ok, _ := k.Check("busy"); ok {
		t.Fatal("busy bucket was evicted and reset")
	}
}
