package inbox

import (
	"maps"

	"polyglot/protocols"
)

// HistoryProgress is how far an account's first-login history fill got
// (protocols.HistoryProgressEvent). It lives in memory while the fill
// runs, for the status bar; nothing of it is stored.
type HistoryProgress struct {
	Messages int // fetched so far
	Limit    int // the fill stops at this many; 0: no limit given
	Chats    int // conversations those messages belong to
}

func (in *Inbox) onHistoryProgress(account string, e protocols.HistoryProgressEvent) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if e.Done {
		delete(in.history, account)
		return
	}
	in.history[account] = HistoryProgress{Messages: e.Messages, Limit: e.Limit, Chats: e.Chats}
}

func (in *Inbox) endHistory(account string) {
	in.mu.Lock()
	delete(in.history, account)
	in.mu.Unlock()
}

// HistoryProgress lists the accounts whose history fill is running.
func (in *Inbox) HistoryProgress() map[string]HistoryProgress {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.history)
}
