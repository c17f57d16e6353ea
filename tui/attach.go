package tui

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// filePrompt is the "send a file" modal (ctrl+a): first a path with tab
// completion, then what will go — name, type, size and the route with its
// encryption from the core's plan for a file — and an optional caption.
// enter sends through the same Send (and downgrade prompt) as a text.
type filePrompt struct {
	env   *env
	conv  inbox.ConversationID
	route *inbox.Route // the conversation's pick, if any
	path  textinput.Model
	cap   textinput.Model
	// info and plan are set once the path was read (stage two).
	info    *inbox.FileInfo
	plan    inbox.RoutePlan
	planErr error
	err     string
	hint    string // completion candidates, when tab found several
}

// fileCheckedMsg is the answer to a path: the file as read, and the plan.
type fileCheckedMsg struct {
	Conv    inbox.ConversationID
	Info    inbox.FileInfo
	Err     error
	Plan    inbox.RoutePlan
	PlanErr error
}

func newFilePrompt(e *env, conv inbox.ConversationID, route *inbox.Route, prefill string) *filePrompt {
	p := &filePrompt{env: e, conv: conv, route: route}
	p.path = textinput.New()
	p.path.Prompt = "path: "
	if e.remote {
		// An SSH screen: the file is read where the core runs.
		p.path.Prompt = "path (on the core's machine): "
	}
	p.path.CharLimit = 4096
	p.path.SetValue(prefill)
	p.path.CursorEnd()
	p.path.Focus()
	// A steady cursor: a blinking one would wake the program twice a
	// second for as long as the prompt is open.
	p.path.Cursor.SetMode(cursor.CursorStatic)
	p.cap = textinput.New()
	p.cap.Cursor.SetMode(cursor.CursorStatic)
	p.cap.Prompt = "caption (optional): "
	p.cap.CharLimit = 4096
	return p
}

// pastedPath reads a composer draft as a file path when it is one: a path
// dropped into the terminal (possibly file://, quoted or with escaped
// spaces) that names an existing regular file.
func pastedPath(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsRune(s, '\n') || s == "" {
		return ""
	}
	s = strings.TrimPrefix(s, "file://")
	if len(s) > 1 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	s = strings.ReplaceAll(s, `\ `, " ")
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") {
		return ""
	}
	p := expandHome(s)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return s
}

// samePath says whether the pasted path p names the file at abs.
func samePath(p, abs string) bool {
	if p == "" {
		return false
	}
	a, err := filepath.Abs(expandHome(p))
	return err == nil && a == abs
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}

// complete extends the path to the longest common prefix of the names that
// match it; a single directory gets its slash.
func complete(p string) (string, []string) {
	full := expandHome(p)
	dir, base := filepath.Split(full)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return p, nil
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, base) && (base != "" || !strings.HasPrefix(n, ".")) {
			if e.IsDir() {
				n += "/"
			}
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return p, nil
	}
	sort.Strings(names)
	common := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, common) {
			common = common[:len(common)-1]
		}
	}
	return p[:len(p)-len(base)] + common, names
}

func (p *filePrompt) check() tea.Cmd {
	e, conv, path := p.env, p.conv, p.path.Value()
	opts := inbox.RouteOptions{File: true}
	if p.route != nil {
		r := *p.route
		opts.Route = &r
	}
	return func() tea.Msg {
		info, err := inbox.InspectFile(strings.TrimSpace(path))
		if err != nil {
			return fileCheckedMsg{Conv: conv, Err: err}
		}
		plan, perr := e.core.PlanRoute(e.ctx, conv, opts)
		return fileCheckedMsg{Conv: conv, Info: info, Plan: plan, PlanErr: perr}
	}
}

func (p *filePrompt) onChecked(m fileCheckedMsg) {
	if m.Err != nil {
		p.err = m.Err.Error() // "PATH: cannot read the file: why"
		return
	}
	p.info, p.plan, p.planErr, p.err = &m.Info, m.Plan, m.PlanErr, ""
	p.path.Blur()
	p.cap.Focus()
}

// Update: promptSent when the file went to Send, promptCancelled on esc.
func (p *filePrompt) Update(msg tea.Msg) (promptOutcome, tea.Cmd) {
	if m, ok := msg.(fileCheckedMsg); ok {
		if m.Conv == p.conv {
			p.onChecked(m)
		}
		return promptOpen, nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return promptOpen, nil
	}
	if k.Type == tea.KeyEsc {
		if p.info != nil {
			// Back to the path.
			p.info, p.err = nil, ""
			p.cap.Blur()
			p.path.Focus()
			return promptOpen, nil
		}
		return promptCancelled, nil
	}
	if p.info == nil {
		switch k.Type {
		case tea.KeyTab:
			v, names := complete(p.path.Value())
			p.path.SetValue(v)
			p.path.CursorEnd()
			p.hint = ""
			if len(names) > 1 {
				p.hint = strings.Join(names, "  ")
			}
			return promptOpen, nil
		case tea.KeyEnter:
			if strings.TrimSpace(p.path.Value()) == "" {
				return promptOpen, nil
			}
			p.err = ""
			return promptOpen, p.check()
		}
		var cmd tea.Cmd
		p.path, cmd = p.path.Update(msg)
		p.err, p.hint = "", ""
		return promptOpen, cmd
	}
	if k.Type == tea.KeyEnter {
		if p.planErr != nil {
			return promptOpen, nil
		}
		req := inbox.SendRequest{Conversation: p.conv, File: p.info.Path, Body: p.cap.Value(), Route: p.route}
		return promptSent, sendCmd(p.env.ctx, p.env.core, req)
	}
	var cmd tea.Cmd
	p.cap, cmd = p.cap.Update(msg)
	return promptOpen, cmd
}

// summary is "name · type · size".
func fileSummary(f inbox.FileInfo) string {
	return f.Name + " · " + f.MIME + " · " + protocols.HumanSize(f.Size)
}

// View draws the modal at width w.
func (p *filePrompt) View(w int) string {
	st := p.env.st
	inner := max(w-4, 10)
	var b strings.Builder
	b.WriteString(st.title.Render("Send a file"))
	p.path.Width = max(inner-len(p.path.Prompt)-1, 5)
	p.cap.Width = max(inner-len(p.cap.Prompt)-1, 5)
	if p.info == nil {
		b.WriteString("\n" + p.path.View())
		if p.hint != "" {
			b.WriteString("\n" + st.dim.Render(inline(p.hint, inner)))
		}
		if p.err != "" {
			b.WriteString("\n" + st.errStyle.Render(inline(p.err, inner)))
		}
		b.WriteString("\n" + st.dim.Render("[tab] complete   [enter] next   [esc] cancel"))
		return st.modal.Width(inner + 2).Render(b.String())
	}
	b.WriteString("\n" + inline(fileSummary(*p.info), inner))
	switch {
	case p.planErr != nil:
		b.WriteString("\n" + st.errStyle.Render(inline("cannot send: "+p.planErr.Error(), inner)))
	default:
		r := p.plan.Route
		line := "→ via " + networkName(r.Network) + " · " + st.enc(r.Encryption) + " " + r.Encryption.Label()
		b.WriteString("\n" + truncateStyled(line, inner))
		if p.plan.Line != "" {
			for _, l := range wrapBlock(p.plan.Line, inner) {
				b.WriteString("\n" + st.warn.Render(l))
			}
		}
	}
	b.WriteString("\n" + p.cap.View())
	b.WriteString("\n" + st.dim.Render("[enter] send   [esc] back"))
	return st.modal.Width(inner + 2).Render(b.String())
}

// startFile opens the file prompt, taking a path pasted into the composer.
func (c *conversationView) startFile() tea.Cmd {
	if c.editing != nil {
		return cmdOf(statusMsg{Text: "an edit cannot carry a file", Err: true})
	}
	prefill := pastedPath(c.composer.value())
	// The composer keeps the pasted path until the file went (onSent).
	c.file = newFilePrompt(c.env, c.id, c.pick, prefill)
	c.clampOffset()
	if prefill != "" {
		return c.file.check()
	}
	return nil
}

// uploadsMsg carries the files going up now, for the status bar.
type uploadsMsg struct{ Ups []inbox.UploadProgress }

// UploadReporter is the optional part of a Core that knows which files are
// going up (inbox.Uploads).
type UploadReporter interface {
	Uploads() []inbox.UploadProgress
}

func loadUploads(c Core) tea.Cmd {
	ur, ok := c.(UploadReporter)
	if !ok {
		return nil
	}
	return func() tea.Msg { return uploadsMsg{Ups: ur.Uploads()} }
}

// uploadText is "uploading a.png 45% of 12 MiB".
func uploadText(ups []inbox.UploadProgress) string {
	var parts []string
	for _, u := range ups {
		pct := 100
		if u.Total > 0 {
			pct = int(u.Done * 100 / u.Total)
		}
		parts = append(parts, "uploading "+inline(u.Name, 32)+" "+itoa(int64(pct))+"% of "+protocols.HumanSize(u.Total))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
