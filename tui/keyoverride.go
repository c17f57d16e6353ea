package tui

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// OverrideKeys rebinds actions from config.toml's [keys] table: the action is
// a binding's name in any case ("send", "Requests", "toggleaccount"), the
// value one or more keys separated by commas ("ctrl+s" or "j, down"). The
// help overlay shows the new keys. An unknown action or an empty value is an
// error naming the valid actions; nothing is changed then.
func OverrideKeys(overrides map[string]string) error {
	km, err := boundKeys(overrides)
	if err != nil {
		return err
	}
	keys = km
	return nil
}

// CheckKeys reports what OverrideKeys would refuse, changing nothing.
func CheckKeys(overrides map[string]string) error {
	_, err := boundKeys(overrides)
	return err
}

// boundKeys is the key map with the overrides applied.
func boundKeys(overrides map[string]string) (keyMap, error) {
	km := keys
	v := reflect.ValueOf(&km).Elem()
	byName := map[string]int{}
	for i := 0; i < v.NumField(); i++ {
		byName[strings.ToLower(v.Type().Field(i).Name)] = i
	}
	for action, spec := range overrides {
		i, ok := byName[strings.ToLower(strings.TrimSpace(action))]
		if !ok {
			names := make([]string, 0, len(byName))
			for n := range byName {
				names = append(names, n)
			}
			sort.Strings(names)
			return km, fmt.Errorf("[keys]: unknown action %q (actions: %s)", action, strings.Join(names, ", "))
		}
		var ks []string
		for _, k := range strings.Split(spec, ",") {
			if k = strings.TrimSpace(k); k != "" {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			return km, fmt.Errorf("[keys]: %s has no key", action)
		}
		b := v.Field(i).Addr().Interface().(*key.Binding)
		*b = key.NewBinding(key.WithKeys(ks...), key.WithHelp(strings.Join(ks, "/"), b.Help().Desc))
	}
	return km, nil
}
