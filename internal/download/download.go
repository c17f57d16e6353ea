// Package download saves an attachment a connector fetched: under a safe
// name derived from the remote one (which is hostile input), never
// outside the directory, never over another file, never half-written.
package download

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Save writes data into dir (made 0700 if missing) under SafeName(name),
// or name-1, name-2… when taken, and returns the file's path.
func Save(dir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return saveUnique(dir, SafeName(name), data)
}

// saveUnique writes data under name in dir, or name-1, name-2… when taken.
// The content goes to a temporary file first and is linked in only when
// complete, so a crash never leaves a truncated file under the real name
// and two downloads never overwrite each other.
func saveUnique(dir, name string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, ".part-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	ext := filepath.Ext(name)
	for i := 0; i < 1000; i++ {
		path := filepath.Join(dir, name)
		if i > 0 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), i, ext))
		}
		// Link fails when the name exists: no check-then-write race.
		err := os.Link(tmp.Name(), path)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free file name for %q in %s", name, dir)
}

// SafeName is the remote name as a plain file name: its last path
// element only, no controls, no invisible format characters, no leading
// dot (no hidden file), at most 120 bytes.
func SafeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || unicode.IsControl(r):
			return '_'
		case unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	if name == "" {
		name = "attachment"
	}
	for len(name) > 120 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}
