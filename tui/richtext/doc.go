// Package richtext draws Matrix HTML (formatted_body) as styled terminal
// lines: bold, italic, underline, strike-through, inline code, code blocks,
// links, quotations, lists, headings and line breaks.
//
// The HTML is hostile remote input. Parse accepts only the restricted
// Matrix subset and treats the rest as plain containers: unknown tags add
// nothing, every attribute except <a href> (and <img alt>, <ol start>,
// data-mx-spoiler) is ignored, script/style/head and <mx-reply> fallbacks
// are dropped with
// their content, and input that is too large (MaxHTMLBytes), nested too
// deep (MaxDepth) or holds too much text (MaxTextRunes) is refused, so the
// caller draws the plain body instead and nothing is lost. Every piece of
// text passes through polyglot/tui/sanitize before it is measured, so
// escape sequences and control characters are inert.
//
// Render wraps the styled text to a width, keeping each span's style
// across line breaks. A line never exceeds the width under either way a
// terminal counts cells: by grapheme cluster (lipgloss) or by code point
// (tmux, xterm).
//
// A spoiler (data-mx-spoiler) is drawn as "[spoiler: reason]" with its
// content left out, unless the caller asks to reveal it.
//
// When the renderer cannot draw attributes at all (the Ascii colour
// profile) inline code is shown between backticks, code blocks between
// ``` lines and struck text between ~~, so their meaning survives.
package richtext
