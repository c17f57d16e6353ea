package demo

import (
	"container/heap"
	"sync"
	"time"
)

// task is one scripted action at a virtual offset from the connector's start.
type task struct {
	at  time.Duration // virtual time since Connect
	seq uint64        // insertion order breaks ties, so equal times stay ordered
	run func(at time.Duration)
}

type taskHeap []task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// scheduler runs tasks in virtual-time order on one goroutine. Virtual time
// is real elapsed time multiplied by speed, so a 20 s script step happens
// after 0.4 s of real time at speed 50. Tasks run strictly in (at, seq) order
// even when several are overdue, which is what makes a seed reproducible.
type scheduler struct {
	speed float64

	mu      sync.Mutex
	q       taskHeap
	seq     uint64
	started bool
	start   time.Time // real (monotonic) start

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

func newScheduler(speed float64) *scheduler {
	return &scheduler{speed: speed, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// now is the virtual time since run; zero before run.
func (s *scheduler) now() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *scheduler) nowLocked() time.Duration {
	if !s.started {
		return 0
	}
	return time.Duration(float64(time.Since(s.start)) * s.speed)
}

// real converts a virtual duration to wall-clock time.
func (s *scheduler) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.speed)
}

// at schedules fn at virtual time at (may be in the past: it runs next).
func (s *scheduler) at(at time.Duration, fn func(at time.Duration)) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.q, task{at: at, seq: s.seq, run: fn})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// after schedules fn d of virtual time from now.
func (s *scheduler) after(d time.Duration, fn func(at time.Duration)) {
	s.at(s.now()+d, fn)
}

// run starts the loop once; it ends when stop is called.
func (s *scheduler) run() {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.start = time.Now()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.loop()
}

func (s *scheduler) loop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		default:
		}
		s.mu.Lock()
		if len(s.q) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		next := s.q[0]
		if wait := s.real(next.at - s.nowLocked()); wait > 0 {
			s.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.wake:
				// Go ≥1.23 timers: Stop leaves no stale tick to drain.
				timer.Stop()
			case <-s.done:
				return
			}
			continue
		}
		heap.Pop(&s.q)
		s.mu.Unlock()
		next.run(next.at)
	}
}

// stop ends the loop and waits for it; pending tasks are dropped.
func (s *scheduler) stop() {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
}
