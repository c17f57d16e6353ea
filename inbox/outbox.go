package inbox

// outboxRun is the per-account sender loop (being written: router/outbox).
type outboxRun struct{}

func (in *Inbox) kickOutbox(account string) {}
