package measure

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// rusageSelf returns this process's user plus system CPU time and its peak RSS in
// bytes, as getrusage(RUSAGE_SELF) reports them: a second reading of the same
// kernel counters that CPUTime and ReadMemory take from /proc.
func rusageSelf(t *testing.T) (time.Duration, uint64) {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, uint64(ru.Maxrss) << 10 // Linux reports ru_maxrss in KiB
}

// TestReadOwnProcess checks CPUTime and ReadMemory against getrusage. It waits for
// CPU time, not wall-clock time: the process works until getrusage reports 50 ms of
// CPU, however long a loaded machine takes to give it that, so the check does not
// depend on scheduling.
func TestReadOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	pid := os.Getpid()
	t.Run("cpu time lies between two getrusage readings taken around it", func(t *testing.T) {
		const want = 50 * time.Millisecond
		sink := uint64(1)
		for {
			if cpu, _ := rusageSelf(t); cpu >= want {
				break
			}
			for i := 0; i < 1_000_000; i++ {
				sink = sink*6364136223846793005 + 1442695040888963407
			}
		}
		before, _ := rusageSelf(t)
		got, err := CPUTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := rusageSelf(t)
		// /proc/<pid>/stat truncates user and system time to whole ticks each, so it
		// may read up to two ticks below the exact counters, never above them.
		const tick = time.Second / clockTicks
		if got < before-2*tick || got > after {
			t.Errorf("CPUTime = %v, want within [%v, %v] (getrusage before - 2 ticks, after); sink %d", got, before-2*tick, after, sink)
		}
	})
	t.Run("peak RSS is at least the current RSS and at most getrusage's later peak", func(t *testing.T) {
		m, err := ReadMemory(pid)
		if err != nil {
			t.Fatal(err)
		}
		_, maxRSS := rusageSelf(t)
		if m.RSS == 0 || m.Peak < m.RSS {
			t.Errorf("memory %+v, want RSS > 0 and Peak >= RSS", m)
		}
		if m.Peak > maxRSS {
			t.Errorf("Peak = %d bytes, above getrusage's later maxrss %d bytes", m.Peak, maxRSS)
		}
	})
	t.Run("a process that does not exist is an error", func(t *testing.T) {
		if _, err := CPUTime(-1); err == nil {
			t.Error("CPUTime(-1): want an error")
		}
		if _, err := ReadMemory(-1); err == nil {
			t.Error("ReadMemory(-1): want an error")
		}
	})
}
