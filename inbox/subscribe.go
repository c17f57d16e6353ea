package inbox

import "sync"

// subscriber buffers changes for one listener. Publishing never blocks:
// pending changes are a small set (duplicates coalesce) drained by the
// subscriber's own goroutine, so a slow TUI only delays itself.
type subscriber struct {
	out    chan Change
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	queue  []Change
	queued map[Change]bool
}

// maxPending bounds a stalled subscriber's memory; past it, changes collapse
// to one "everything changed" notice per kind.
const maxPending = 256

// Subscribe returns a channel of change notices and a function that ends the
// subscription (and closes the channel).
func (in *Inbox) Subscribe() (<-chan Change, func()) {
	s := &subscriber{
		out:    make(chan Change, 16),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		queued: map[Change]bool{},
	}
	in.mu.Lock()
	closed := in.closed
	if !closed {
		in.subs[s] = struct{}{}
	}
	in.mu.Unlock()
	if closed {
		close(s.out)
		return s.out, func() {}
	}
	go s.run()
	return s.out, func() {
		in.mu.Lock()
		delete(in.subs, s)
		in.mu.Unlock()
		s.close()
	}
}

func (s *subscriber) close() { s.once.Do(func() { close(s.done) }) }

func (s *subscriber) push(c Change) {
	s.mu.Lock()
	if !s.queued[c] {
		if len(s.queue) >= maxPending {
			// Collapse: a conversation-less change means "re-read the list".
			c.Conversation = 0
		}
		if !s.queued[c] {
			s.queued[c] = true
			s.queue = append(s.queue, c)
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) run() {
	defer close(s.out)
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			c := s.queue[0]
			s.queue = s.queue[1:]
			delete(s.queued, c)
			s.mu.Unlock()
			select {
			case s.out <- c:
			case <-s.done:
				return
			}
		}
	}
}

func (in *Inbox) publish(changes ...Change) {
	in.mu.Lock()
	subs := make([]*subscriber, 0, len(in.subs))
	for s := range in.subs {
		subs = append(subs, s)
	}
	in.mu.Unlock()
	for _, s := range subs {
		for _, c := range changes {
			s.push(c)
		}
	}
}
