package xtermtest

import "strconv"

// Keys presses keys in the terminal as a user would: through the X
// server's XTEST extension (xdotool), with the pointer over the window so
// that it has the keyboard (there is no window manager: focus follows the
// pointer). Each key is an xdotool key name: "Return", "Escape",
// "ctrl+k", "Prior" (page up), "a".
func (x *Term) Keys(keys ...string) {
	x.t.Helper()
	x.pointerIn()
	if _, err := xcmd(x.display, x.xauth, "xdotool", append([]string{"key"}, keys...)...); err != nil {
		x.t.Fatalf("xtermtest: keys %q: %v", keys, err)
	}
}

// Type types text in the terminal (see Keys).
func (x *Term) Type(text string) {
	x.t.Helper()
	x.pointerIn()
	if _, err := xcmd(x.display, x.xauth, "xdotool", "type", "--", text); err != nil {
		x.t.Fatalf("xtermtest: type %q: %v", text, err)
	}
}

// pointerIn moves the pointer over the window. Not --sync: that waits
// for a motion, and there is none when the pointer is there already. The
// server handles XTEST events in order, so the keys follow the move.
func (x *Term) pointerIn() {
	x.t.Helper()
	c := x.CellRect(0, 0).Min.Add(x.cell.Div(2))
	if _, err := xcmd(x.display, x.xauth, "xdotool", "mousemove", strconv.Itoa(c.X), strconv.Itoa(c.Y)); err != nil {
		x.t.Fatalf("xtermtest: move the pointer into the window: %v", err)
	}
}
