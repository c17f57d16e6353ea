package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Saving a changed config edits the user's file instead of re-rendering
// it, so comments, blank lines, key order and quoting survive `polyglot
// account add`. The edit is driven by what changed between the config the
// file loads to (old) and the config wanted (want):
//
//   - a changed value replaces only the value on its line; a trailing
//     comment stays. A string emptied (server, display_name…) drops its line.
//   - a key new to a table goes after the table's last key.
//   - a new account is appended as an [[account]] block after the last
//     account block (tables after it stay after it).
//   - a removed account loses its block: the header, every line up to the
//     next table header, and the comment lines directly above its header
//     (no blank line between). Comments that open the file are never taken:
//     they usually describe the whole file.
//
// Anything the editor cannot place (an inline `account = [...]`, accounts
// reordered, a multi-line value to change) returns errUnsupported and the
// caller falls back to a full render with a backup.

// configEdit collects changes to a scanned document and applies them.
type configEdit struct {
	doc      *tomlDoc
	replaced map[int]string
	deleted  map[int]bool
	inserted map[int][]string // new lines placed before line i (len = at end)
}

// editConfig rewrites old (which loads to oldCfg) into text that loads to
// want. fc is want in file form (Encode's view), for values as written.
func editConfig(old []byte, oldCfg, want *Config, fc fileConfig) ([]byte, error) {
	doc, err := scanTOML(string(old))
	if err != nil {
		return nil, err
	}
	e := &configEdit{doc: doc, replaced: map[int]string{}, deleted: map[int]bool{}, inserted: map[int][]string{}}

	var root []kvSet
	if oldCfg.Theme != want.Theme {
		root = append(root, kvSet{key: "theme", value: tomlString(want.Theme), del: want.Theme == ""})
	}
	if oldCfg.Keystore != want.Keystore {
		root = append(root, kvSet{key: "keystore", value: tomlString(want.Keystore)})
	}
	if err := e.setTable(nil, root); err != nil {
		return nil, err
	}

	var keys []kvSet
	for _, action := range unionKeys(oldCfg.Keys, want.Keys) {
		v, ok := want.Keys[action]
		if ov, had := oldCfg.Keys[action]; had == ok && ov == v {
			continue
		}
		keys = append(keys, kvSet{key: action, value: tomlString(v), del: !ok})
	}
	if err := e.setTable([]string{"keys"}, keys); err != nil {
		return nil, err
	}

	var notif []kvSet
	on, wn := oldCfg.Notifications, want.Notifications
	boolSet := func(key string, o, w bool) {
		if o != w {
			notif = append(notif, kvSet{key: key, value: fmt.Sprint(w)})
		}
	}
	boolSet("enabled", on.Enabled, wn.Enabled)
	boolSet("bell", on.Bell, wn.Bell)
	boolSet("title", on.Title, wn.Title)
	if on.Desktop != wn.Desktop {
		notif = append(notif, kvSet{key: "desktop", value: tomlString(wn.Desktop)})
	}
	boolSet("preview", on.Preview, wn.Preview)
	if err := e.setTable([]string{"notifications"}, notif); err != nil {
		return nil, err
	}

	if err := e.accounts(oldCfg.Accounts, want.Accounts, fc.Accounts); err != nil {
		return nil, err
	}
	return e.render(), nil
}

// kvSet is one key to set (value is TOML text) or delete.
type kvSet struct {
	key, value string
	del        bool
}

func unionKeys(a, b map[string]string) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// setTable applies sets to the plain (non-array) table at path: nil is the
// root, ["notifications"] may be a [notifications] block or dotted keys.
func (e *configEdit) setTable(table []string, sets []kvSet) error {
	if len(sets) == 0 {
		return nil
	}
	var pending []kvSet
	for _, s := range sets {
		full := append(slices.Clone(table), s.key)
		i, err := e.findPlain(full)
		if err != nil {
			return err
		}
		switch {
		case i >= 0 && s.del:
			e.deleteKeyVal(i)
		case i >= 0:
			if err := e.replaceValue(i, s.value); err != nil {
				return err
			}
		case !s.del:
			pending = append(pending, s)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	d := e.doc
	// After the table's last key, written relative to that line's block
	// and spelt as that line spells the table (names ignore case).
	after, anchor, spelt := -1, -1, []string(nil)
	for i, l := range d.lines {
		b := d.blocks[l.block]
		if l.kind != lineKeyVal || b.array || !hasPrefix(table, b.path) {
			continue
		}
		if full := concat(b.path, l.path); len(full) > len(table) && hasPrefix(full, table) {
			after, anchor, spelt = l.last, i, full[len(b.path):len(table)]
		}
	}
	if after < 0 {
		// An existing header with no keys yet.
		for _, b := range d.blocks[1:] {
			if !b.array && samePath(b.path, table) {
				after, spelt = b.header, nil
			}
		}
	}
	if after >= 0 {
		indent := ""
		if anchor >= 0 {
			indent = leadingSpace(d.lines[anchor].text)
		}
		var lines []string
		for _, s := range pending {
			lines = append(lines, indent+tomlPath(concat(spelt, []string{s.key}))+" = "+s.value)
		}
		e.insert(after+1, lines...)
		return nil
	}
	var lines []string
	if len(table) > 0 {
		lines = append(lines, "["+tomlPath(table)+"]")
	}
	for _, s := range pending {
		lines = append(lines, tomlKey(s.key)+" = "+s.value)
	}
	if len(table) == 0 {
		// Root keys must come before the first table.
		at := len(d.lines)
		if len(d.blocks) > 1 {
			at = e.claimStart(d.blocks[1].header)
		}
		e.insertBlock(at, lines)
		return nil
	}
	// A new table goes before the accounts, where Encode would put it.
	at := len(d.lines)
	for _, b := range d.blocks[1:] {
		if b.array {
			at = e.claimStart(b.header)
			break
		}
	}
	e.insertBlock(at, lines)
	return nil
}

// findPlain returns the key/value line setting full outside arrays of
// tables, or -1. A value that is an inline table holding full is refused.
func (e *configEdit) findPlain(full []string) (int, error) {
	for i, l := range e.doc.lines {
		b := e.doc.blocks[l.block]
		if l.kind != lineKeyVal || b.array {
			continue
		}
		p := concat(b.path, l.path)
		if samePath(p, full) {
			return i, nil
		}
		if len(p) < len(full) && hasPrefix(full, p) {
			return -1, fmt.Errorf("%w: %s is written inline", errUnsupported, tomlPath(p))
		}
	}
	return -1, nil
}

// accounts matches accounts by ID: changed fields are edited in place,
// removed accounts deleted, new ones appended.
func (e *configEdit) accounts(old, want []Account, files []fileAccount) error {
	d := e.doc
	var blocks []int
	for i, b := range d.blocks {
		if b.array && samePath(b.path, []string{"account"}) {
			blocks = append(blocks, i)
		} else if len(b.path) > 0 && strings.EqualFold(b.path[0], "account") {
			return fmt.Errorf("%w: table %s", errUnsupported, tomlPath(b.path))
		}
	}
	if len(blocks) != len(old) {
		return fmt.Errorf("%w: accounts written inline (account = [...]) rather than as [[account]] blocks", errUnsupported)
	}
	wantIdx := map[string]int{}
	for i, a := range want {
		wantIdx[a.ID] = i
	}
	next := 0 // want index the next kept account must have
	for oi, oa := range old {
		wi, kept := wantIdx[oa.ID]
		if !kept {
			e.deleteBlock(blocks[oi])
			continue
		}
		if wi != next {
			return fmt.Errorf("%w: accounts reordered", errUnsupported)
		}
		next++
		if err := e.setAccount(blocks[oi], accountSets(oa, want[wi], files[wi])); err != nil {
			return err
		}
	}
	if next == len(want) {
		return nil
	}
	// Only new accounts remain; they follow the last account block.
	at, indent, header := len(d.lines), "", "[[account]]"
	if len(blocks) > 0 {
		last := d.blocks[blocks[len(blocks)-1]]
		// [[Account]] and [[account]] would be two different arrays.
		header = "[[" + tomlPath(last.path) + "]]"
		at = last.end
		if last.end < len(d.lines) {
			at = e.claimStart(last.end)
		}
		for at-1 > last.header && d.lines[at-1].kind == lineBlank {
			at--
		}
		for i := last.header + 1; i < last.end; i++ {
			if d.lines[i].kind == lineKeyVal {
				indent = leadingSpace(d.lines[i].text)
				break
			}
		}
	}
	var lines []string
	for wi := next; wi < len(want); wi++ {
		if _, existed := indexByID(old, want[wi].ID); existed {
			return fmt.Errorf("%w: accounts reordered", errUnsupported)
		}
		if wi > next {
			lines = append(lines, "")
		}
		lines = append(lines, header)
		for _, s := range newAccountLines(want[wi], files[wi]) {
			lines = append(lines, indent+s.key+" = "+s.value)
		}
	}
	e.insertBlock(at, lines)
	return nil
}

func indexByID(accs []Account, id string) (int, bool) {
	for i, a := range accs {
		if a.ID == id {
			return i, true
		}
	}
	return -1, false
}

// accountSets lists the keys that differ between two versions of one
// account, valued as Encode would write them.
func accountSets(o, w Account, f fileAccount) []kvSet {
	var sets []kvSet
	str := func(key, ov, wv, written string) {
		if ov != wv {
			sets = append(sets, kvSet{key: key, value: tomlString(written), del: written == ""})
		}
	}
	boolean := func(key string, ov, wv bool) {
		if ov != wv {
			sets = append(sets, kvSet{key: key, value: fmt.Sprint(wv)})
		}
	}
	str("network", string(o.Network), string(w.Network), f.Network)
	str("address", o.Address, w.Address, f.Address)
	str("server", o.Server, w.Server, f.Server)
	str("ca_file", o.CAFile, w.CAFile, f.CAFile)
	boolean("insecure_tls", o.InsecureTLS, w.InsecureTLS)
	str("display_name", o.DisplayName, w.DisplayName, f.DisplayName)
	boolean("enabled", o.Enabled, w.Enabled)
	if o.Reachability != w.Reachability {
		sets = append(sets, kvSet{key: "reachability", value: tomlString(string(w.Reachability))})
	}
	integer := func(key string, ov, wv int) {
		if ov != wv {
			sets = append(sets, kvSet{key: key, value: fmt.Sprint(wv), del: wv == 0})
		}
	}
	integer("history_days", o.HistoryDays, w.HistoryDays)
	integer("history_messages", o.HistoryMessages, w.HistoryMessages)
	str("identity_server", o.IdentityServer, w.IdentityServer, f.IdentitySrv)
	return sets
}

// newAccountLines is a new account's keys in Encode's order, defaults left out.
func newAccountLines(w Account, f fileAccount) []kvSet {
	var out []kvSet
	add := func(key, v string) {
		if v != "" {
			out = append(out, kvSet{key: key, value: tomlString(v)})
		}
	}
	add("id", f.ID)
	add("network", f.Network)
	add("address", f.Address)
	add("server", f.Server)
	add("ca_file", f.CAFile)
	if w.InsecureTLS {
		out = append(out, kvSet{key: "insecure_tls", value: "true"})
	}
	add("display_name", f.DisplayName)
	if !w.Enabled {
		out = append(out, kvSet{key: "enabled", value: "false"})
	}
	add("reachability", f.Reachability)
	if w.HistoryDays > 0 {
		out = append(out, kvSet{key: "history_days", value: fmt.Sprint(w.HistoryDays)})
	}
	if w.HistoryMessages > 0 {
		out = append(out, kvSet{key: "history_messages", value: fmt.Sprint(w.HistoryMessages)})
	}
	add("identity_server", f.IdentitySrv)
	return out
}

// setAccount applies sets inside one [[account]] block.
func (e *configEdit) setAccount(bi int, sets []kvSet) error {
	d := e.doc
	b := d.blocks[bi]
	after, indent := b.header, ""
	for i := b.header + 1; i < b.end; i++ {
		if l := d.lines[i]; l.kind == lineKeyVal {
			after, indent = l.last, leadingSpace(l.text)
		}
	}
	var add []string
	for _, s := range sets {
		found := -1
		for i := b.header + 1; i < b.end; i++ {
			if l := d.lines[i]; l.kind == lineKeyVal && len(l.path) == 1 && strings.EqualFold(l.path[0], s.key) {
				found = i
			}
		}
		switch {
		case found >= 0 && s.del:
			e.deleteKeyVal(found)
		case found >= 0:
			if err := e.replaceValue(found, s.value); err != nil {
				return err
			}
		case !s.del:
			add = append(add, indent+tomlKey(s.key)+" = "+s.value)
		}
	}
	e.insert(after+1, add...)
	return nil
}

func (e *configEdit) replaceValue(i int, value string) error {
	l := e.doc.lines[i]
	if l.last != i {
		return fmt.Errorf("%w: multi-line value of %s", errUnsupported, tomlPath(l.path))
	}
	e.replaced[i] = l.text[:l.valStart] + value + l.text[l.valEnd:]
	return nil
}

func (e *configEdit) deleteKeyVal(i int) {
	for j := i; j <= e.doc.lines[i].last; j++ {
		e.deleted[j] = true
	}
}

// deleteBlock removes a table block with the comments claimed by its
// header; at the end of the file the blank lines before it go too.
func (e *configEdit) deleteBlock(bi int) {
	d := e.doc
	b := d.blocks[bi]
	from, to := e.claimStart(b.header), b.end
	if b.end < len(d.lines) {
		to = e.claimStart(b.end)
	} else {
		for from > 0 && d.lines[from-1].kind == lineBlank {
			from--
		}
	}
	for j := from; j < to; j++ {
		e.deleted[j] = true
	}
}

// claimStart is where the comment lines directly above header h begin
// (h itself when there are none, or when they open the file).
func (e *configEdit) claimStart(h int) int {
	j := h
	for j > 0 && e.doc.lines[j-1].kind == lineComment {
		j--
	}
	if j == 0 {
		return h
	}
	return j
}

func (e *configEdit) insert(at int, lines ...string) {
	e.inserted[at] = append(e.inserted[at], lines...)
}

// insertBlock inserts lines as a paragraph: blank lines separate it from
// neighbouring text.
func (e *configEdit) insertBlock(at int, lines []string) {
	d := e.doc
	if ins := e.inserted[at]; len(ins) > 0 {
		if ins[len(ins)-1] != "" {
			lines = append([]string{""}, lines...)
		}
	} else if prev := e.lineBefore(at); prev >= 0 && d.lines[prev].kind != lineBlank {
		lines = append([]string{""}, lines...)
	}
	if next := e.lineFrom(at); next >= 0 && d.lines[next].kind != lineBlank {
		lines = append(lines, "")
	}
	e.insert(at, lines...)
}

// lineBefore is the last surviving line before at, or -1.
func (e *configEdit) lineBefore(at int) int {
	for i := at - 1; i >= 0; i-- {
		if !e.deleted[i] {
			return i
		}
	}
	return -1
}

// lineFrom is the first surviving line at or after at, or -1.
func (e *configEdit) lineFrom(at int) int {
	for i := at; i < len(e.doc.lines); i++ {
		if !e.deleted[i] {
			return i
		}
	}
	return -1
}

// render writes the edited text. Kept lines keep their own line endings;
// new ones take the file's usual one, and the file ends with a line break
// exactly when it did before.
func (e *configEdit) render() []byte {
	d := e.doc
	type out struct{ text, eol string }
	var lines []out
	for i := 0; i <= len(d.lines); i++ {
		for _, s := range e.inserted[i] {
			lines = append(lines, out{s, d.eol})
		}
		if i == len(d.lines) || e.deleted[i] {
			continue
		}
		l := d.lines[i]
		if r, ok := e.replaced[i]; ok {
			l.text = r
		}
		lines = append(lines, out{l.text, l.eol})
	}
	var b strings.Builder
	for i, l := range lines {
		eol := l.eol
		if eol == "" {
			eol = d.eol
		}
		if i == len(lines)-1 && !d.finalEOL && len(d.lines) > 0 {
			eol = ""
		}
		b.WriteString(l.text + eol)
	}
	return []byte(b.String())
}

// The decoder matches config names to fields ignoring case ([Keys] is
// [keys]); only the actions inside [keys] are map keys, compared exactly.
func samePath(a, b []string) bool {
	return len(a) == len(b) && hasPrefix(a, b)
}

func hasPrefix(path, prefix []string) bool {
	if len(path) < len(prefix) {
		return false
	}
	for i, k := range prefix {
		if i == 1 && strings.EqualFold(prefix[0], "keys") {
			if k != path[i] {
				return false
			}
		} else if !strings.EqualFold(k, path[i]) {
			return false
		}
	}
	return true
}

func concat(a, b []string) []string {
	return append(slices.Clone(a), b...)
}

func leadingSpace(s string) string {
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}
