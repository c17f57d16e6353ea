// Package sanitize makes text from remote parties safe to draw in a
// terminal and measures it in terminal cells.
//
// Every string a remote party controls (names, room names, message bodies,
// previews, addresses, status texts) passes through Inline, Preview or Block
// at draw time; the core stores the raw text. The rules, in short:
//
//   - Invalid UTF-8 becomes U+FFFD, one per bad byte.
//   - C0 controls and DEL become their visible Control Pictures
//     (ESC ⇒ ␛, BEL ⇒ ␇, NUL ⇒ ␀, DEL ⇒ ␡), so whole escape sequences
//     ("\x1b]0;title\x07") are shown as inert text ("␛]0;title␇").
//     Exceptions: line breaks and tabs, handled per function below.
//     A lone CR (which would let text overwrite its own line) is shown as ␍;
//     CR LF counts as one line break.
//   - C1 controls U+0080–U+009F (8-bit CSI, OSC, ST, NEL, …) have no control
//     picture; each is shown as ␦ (U+2426).
//   - Bidi embeddings, overrides, isolates and marks (U+202A–202E,
//     U+2066–2069, U+200E, U+200F, U+061C) are REMOVED: the terminal then
//     shows the characters in the order they were sent, which is the truth
//     ("Trojan Source" reordering cannot take effect).
//   - Other invisible format characters that can spoof names or hide text
//     are removed: U+200B, U+2060–2064, U+FEFF, soft hyphen, Hangul fillers,
//     interlinear annotations, tag characters outside emoji flag sequences,
//     and every other Unicode Cf character except ZWNJ U+200C, ZWJ U+200D
//     and the visible prepended number signs. Variation selectors and ZWJ are
//     kept so emoji sequences still render.
//   - Runs of more than 16 combining marks are cut to 16 ("Zalgo" text
//     cannot paint over neighbouring lines), and a combining mark with no
//     base character is given ◌ (U+25CC) so it cannot combine with the
//     border or prefix the TUI draws before it.
//   - Line and paragraph separators U+2028/U+2029 count as line breaks.
//
// Inline turns line breaks and tabs into one space each; Preview shows line
// breaks as ⏎ and collapses runs of white space (for the conversation
// list); Block keeps "\n" and expands tabs to 8-column tab stops.
//
// All three are idempotent and return their input unchanged (no
// allocation) when it is already plain printable ASCII.
//
// Width, Truncate and Wrap measure in terminal cells by grapheme cluster
// using the same tables lipgloss uses (github.com/charmbracelet/x/ansi), so
// emoji, ZWJ sequences, flags and East Asian wide characters count 2 cells
// and a cluster is never split. They sanitize their input first, so they are
// safe on raw text; they are meant for plain text, not for already styled
// strings (use lipgloss/ansi for those).
package sanitize
