package themes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultName is the theme used when none is configured and the terminal
// is not known to be light (Options.LightBackground picks "light").
const DefaultName = "dark"

// FileError is a problem in a theme file, with its place when known
// (Line and Col start at 1; 0 means unknown).
type FileError struct {
	Path      string
	Line, Col int
	Msg       string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Load returns the theme called name ("" means DefaultName) with options
// from the environment (NO_COLOR). configDir is Polyglot's configuration
// directory (e.g. $XDG_CONFIG_HOME/polyglot); a file configDir/themes/NAME.toml
// wins over a built-in of the same name. configDir "" means built-ins only.
func Load(name, configDir string) (*Theme, error) {
	return LoadWith(name, configDir, EnvOptions())
}

// LoadWith is Load with explicit options.
func LoadWith(name, configDir string, o Options) (*Theme, error) {
	if name == "" {
		name = DefaultName
		if o.LightBackground {
			name = "light"
		}
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("invalid theme name %q: use letters, digits, '-' and '_'", name)
	}
	if configDir != "" {
		path := filepath.Join(configDir, "themes", name+".toml")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			p, base, err := parseFile(path, data)
			if err != nil {
				return nil, err
			}
			return build(name, p, base != "light", o), nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("theme %q: %w", name, err)
		}
	}
	if _, ok := builtins[name]; ok {
		return Builtin(name, o)
	}
	return nil, fmt.Errorf("theme %q not found: available %v", name, Available(configDir))
}

// Available lists built-in and user theme names, sorted, without repeats.
func Available(configDir string) []string {
	names := BuiltinNames()
	if configDir != "" {
		matches, _ := filepath.Glob(filepath.Join(configDir, "themes", "*.toml"))
		for _, m := range matches {
			n := strings.TrimSuffix(filepath.Base(m), ".toml")
			if validName.MatchString(n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// themeFile is the TOML layout of a user theme.
type themeFile struct {
	Base       string            `toml:"base"`
	Colors     map[string]string `toml:"colors"`
	Networks   map[string]string `toml:"networks"`
	Encryption map[string]string `toml:"encryption"`
	Delivery   map[string]string `toml:"delivery"`
}

// parseFile reads a user theme: the base palette with the file's
// overrides. Every error names the file and, where it can be found, the
// line and column. base is the built-in it starts from.
func parseFile(path string, data []byte) (p palette, base string, err error) {
	text := string(data)
	var f themeFile
	md, derr := toml.Decode(text, &f)
	if err := derr; err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line, col := pe.Position.Line, pe.Position.Col
			if st := pe.Position.Start; st >= 0 && st < len(text) {
				// The lexer reports an error at a line's end on the next
				// line; the byte offset is exact.
				line = strings.Count(text[:st], "\n") + 1
				col = st - strings.LastIndex(text[:st], "\n")
			}
			return nil, "", &FileError{Path: path, Line: line, Col: col, Msg: pe.Message}
		}
		// Type mismatches (accent = 5) carry only the key; find its place.
		if m := lastKey.FindStringSubmatch(err.Error()); m != nil {
			parts := strings.Split(m[1], ".")
			line, col := locate(text, parts[:len(parts)-1], parts[len(parts)-1])
			return nil, "", &FileError{Path: path, Line: line, Col: col, Msg: m[1] + ": value must be a quoted string"}
		}
		return nil, "", &FileError{Path: path, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		line, col := locate(text, k[:len(k)-1], k[len(k)-1])
		return nil, "", &FileError{Path: path, Line: line, Col: col,
			Msg: fmt.Sprintf("unknown key %q (known: base, and tables colors, networks, encryption, delivery)", k.String())}
	}
	base = f.Base
	if base == "" {
		base = DefaultName
	}
	bp, ok := builtins[base]
	if !ok {
		line, col := locate(text, nil, "base")
		return nil, "", &FileError{Path: path, Line: line, Col: col,
			Msg: fmt.Sprintf("base %q is not a built-in theme (have %v)", base, BuiltinNames())}
	}
	p = bp.clone()
	for _, tbl := range []struct {
		name string
		m    map[string]string
	}{{"colors", f.Colors}, {"networks", f.Networks}, {"encryption", f.Encryption}, {"delivery", f.Delivery}} {
		for _, key := range sortedKeys(tbl.m) {
			full := tbl.name + "." + key
			if _, known := p[full]; !known {
				line, col := locate(text, []string{tbl.name}, key)
				return nil, "", &FileError{Path: path, Line: line, Col: col,
					Msg: fmt.Sprintf("unknown key %q in [%s] (known: %s)", key, tbl.name, strings.Join(knownIn(tbl.name), ", "))}
			}
			v := strings.TrimSpace(tbl.m[key])
			if err := checkColor(v); err != nil {
				line, col := locate(text, []string{tbl.name}, key)
				return nil, "", &FileError{Path: path, Line: line, Col: col, Msg: fmt.Sprintf("%s: %v", full, err)}
			}
			p[full] = v
		}
	}
	return p, base, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func knownIn(table string) []string {
	var out []string
	for _, k := range Keys {
		if rest, ok := strings.CutPrefix(k, table+"."); ok {
			out = append(out, rest)
		}
	}
	return out
}

var lastKey = regexp.MustCompile(`last key "([^"]+)"`)

var hexColor = regexp.MustCompile(`^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$`)

// checkColor accepts "", "#rgb", "#rrggbb" and ANSI indexes 0–255.
func checkColor(v string) error {
	if v == "" || hexColor.MatchString(v) {
		return nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
		return nil
	}
	return fmt.Errorf("invalid colour %q (want \"#rrggbb\", \"#rgb\", an ANSI index 0-255, or \"\")", v)
}

var tableHeader = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_."-]+?)\s*\]`)

// locate finds the line and column (of the value) where key is set inside
// table (nil: top level), by reading the file the way a person would. The
// TOML decoder does not report positions of keys; 0, 0 when not found.
func locate(text string, table []string, key string) (int, int) {
	cur := ""
	want := strings.Join(table, ".")
	for i, line := range strings.Split(text, "\n") {
		if m := tableHeader.FindStringSubmatchIndex(line); m != nil {
			cur = strings.ReplaceAll(line[m[2]:m[3]], `"`, "")
			if full := strings.Trim(want+"."+key, "."); cur == full {
				return i + 1, m[2] + 1 // an unknown table: point at its name
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.ReplaceAll(strings.TrimSpace(k), `"`, "")
		if (cur == want && k == key) || (cur == "" && want != "" && k == want+"."+key) {
			eq := strings.Index(line, "=")
			col := eq + 2
			for col <= len(line) && (line[col-1] == ' ' || line[col-1] == '\t') {
				col++
			}
			return i + 1, col
		}
	}
	return 0, 0
}
