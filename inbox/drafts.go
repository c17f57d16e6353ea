package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Draft is the text the user left unsent in conversation id ("" if none).
func (in *Inbox) Draft(id ConversationID) (string, error) {
	var body string
	err := in.db.QueryRow(`SELECT body FROM drafts WHERE conversation_id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inbox: draft: %w", err)
	}
	return body, nil
}

// SetDraft keeps text as conversation id's draft; blank text drops it.
func (in *Inbox) SetDraft(id ConversationID, text string) error {
	err := in.write(func(tx *sql.Tx) error {
		if strings.TrimSpace(text) == "" {
			_, err := tx.Exec(`DELETE FROM drafts WHERE conversation_id = ?`, id)
			return err
		}
		_, err := tx.Exec(`INSERT INTO drafts(conversation_id, body, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(conversation_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
			id, text, in.now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("inbox: save draft: %w", err)
	}
	in.publish(Change{Kind: ChangeDrafts, Conversation: id})
	return nil
}
