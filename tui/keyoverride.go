package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// BindKeys is the default key map with config.toml's [keys] overrides
// applied: the action is a binding's name in any case ("send", "Requests",
// "toggleaccount"), the value one or more keys separated by commas
// ("ctrl+s" or "j, down"). The help overlay and the hints show the new
// keys. An unknown action or an empty value is an error naming the valid
// actions. The result belongs to one screen (Options.Keys).
func BindKeys(overrides map[string]string) (*KeyMap, error) {
	km := defaultKeys()
	byName := km.actions()
	for action, spec := range overrides {
		b, ok := byName[strings.ToLower(strings.TrimSpace(action))]
		if !ok {
			names := make([]string, 0, len(byName))
			for n := range byName {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("[keys]: unknown action %q (actions: %s)", action, strings.Join(names, ", "))
		}
		var ks []string
		for _, k := range strings.Split(spec, ",") {
			if k = strings.TrimSpace(k); k != "" {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			return nil, fmt.Errorf("[keys]: %s has no key", action)
		}
		*b = key.NewBinding(key.WithKeys(ks...), key.WithHelp(strings.Join(ks, "/"), b.Help().Desc))
	}
	return &km, nil
}

// CheckKeys reports what BindKeys would refuse.
func CheckKeys(overrides map[string]string) error {
	_, err := BindKeys(overrides)
	return err
}

// actions names every binding of k as config.toml's [keys] spells it (the
// field's name in lower case). These names are a contract with users'
// config files: keep them when a binding is renamed.
func (k *KeyMap) actions() map[string]*key.Binding {
	return map[string]*key.Binding{
		"help":            &k.Help,
		"quit":            &k.Quit,
		"back":            &k.Back,
		"suspend":         &k.Suspend,
		"up":              &k.Up,
		"down":            &k.Down,
		"top":             &k.Top,
		"bottom":          &k.Bottom,
		"pageup":          &k.PageUp,
		"pagedown":        &k.PageDown,
		"open":            &k.Open,
		"requests":        &k.Requests,
		"search":          &k.Search,
		"person":          &k.Person,
		"inbox":           &k.Inbox,
		"compose":         &k.Compose,
		"send":            &k.Send,
		"newline":         &k.Newline,
		"route":           &k.Route,
		"retry":           &k.Retry,
		"leaveinput":      &k.LeaveInput,
		"link":            &k.Link,
		"openattachment":  &k.OpenAttachment,
		"reply":           &k.Reply,
		"editmessage":     &k.EditMessage,
		"react":           &k.React,
		"deletemessage":   &k.DeleteMessage,
		"revealspoiler":   &k.RevealSpoiler,
		"copy":            &k.Copy,
		"openlink":        &k.OpenLink,
		"editor":          &k.Editor,
		"attachfile":      &k.AttachFile,
		"nextunread":      &k.NextUnread,
		"prevunread":      &k.PrevUnread,
		"newconversation": &k.NewConversation,
		"accept":          &k.Accept,
		"block":           &k.Block,
		"ignore":          &k.Ignore,
		"unblock":         &k.Unblock,
		"prefer":          &k.Prefer,
		"noprefer":        &k.NoPrefer,
		"downgrade":       &k.Downgrade,
		"merge":           &k.Merge,
		"findcontact":     &k.FindContact,
		"accounts":        &k.Accounts,
		"toggleaccount":   &k.ToggleAccount,
		"removeaccount":   &k.RemoveAccount,
		"relogin":         &k.Relogin,
		"addaccount":      &k.AddAccount,
		"retrynow":        &k.RetryNow,
		"verify":          &k.Verify,
		"verifyaccept":    &k.VerifyAccept,
		"dismiss":         &k.Dismiss,
		"yes":             &k.Yes,
		"no":              &k.No,
		"alwaysallow":     &k.AlwaysAllow,
		"wait":            &k.Wait,
	}
}

// keyName is the key a hint shows for b: the first of its keys.
func keyName(b key.Binding) string {
	if ks := b.Keys(); len(ks) > 0 {
		return ks[0]
	}
	return ""
}
