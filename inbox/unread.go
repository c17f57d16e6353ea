package inbox

import "fmt"

// UnreadConversations counts the conversations holding unread messages
// (inbox and pending requests; blocked ones are hidden, ignored ones never
// count as unread). The TUI shows it in the terminal title. It is one count
// over the conversations table, never over messages.
func (in *Inbox) UnreadConversations() (int, error) {
	var n int
	if err := in.db.QueryRow(`SELECT count(*) FROM conversations WHERE unread > 0 AND hidden = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("inbox: unread conversations: %w", err)
	}
	return n, nil
}
