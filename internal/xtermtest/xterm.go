package xtermtest

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Options says what runs in the terminal.
type Options struct {
	Cols, Rows int      // the text area in cells
	Env        []string // "K=V" added to the command's environment (after xterm's own, so they win)
	// Argv is the command. Empty: the terminal runs cat on a FIFO and
	// Term.Write sends bytes to the screen.
	Argv []string
	// Resources are extra X resources ("XTerm*name: value"), applied
	// after the defaults below so they override them.
	Resources []string
}

// Font is xterm's font: the X server's built-in "fixed" (6x13, present
// in every X server without font packages), so the cell is always 6×13
// pixels.
const Font = "fixed"

// defaultResources: a VT340 (sixel graphics on), 256 colour registers
// (a VT340 has 16, too few for a photo), images up to 1000×1000, and
// sixel scrolling on (images drawn at the cursor, which moves below them,
// as in every other sixel terminal; xterm's own default is off, which
// pins every image to the top left of the screen).
var defaultResources = []string{
	"XTerm*decTerminalID: vt340",
	"XTerm*numColorRegisters: 256",
	"XTerm*maxGraphicSize: 1000x1000",
	"XTerm*sixelScrolling: true",
	"XTerm*cursorBlink: false",
}

// Term is one xterm on its own Xvfb.
type Term struct {
	t              testing.TB
	display, xauth string
	window         string      // xterm's top-level window id
	cols, rows     int         // text area in cells
	cell           image.Point // one cell in pixels
	origin         image.Point // cell (0,0)'s top-left pixel in a Screenshot
	fifo           *os.File    // Write's end when Argv is empty
}

// Start runs opts.Argv in a real xterm with sixel graphics on a private
// headless X server and waits until its window is on screen. A missing
// Xvfb, xterm, xwd, xwininfo or xdotool fails the test: scripts/test-deps.sh
// installs them. Everything stops when the test ends.
func Start(t testing.TB, opts Options) *Term {
	t.Helper()
	for _, bin := range []string{"Xvfb", "xterm", "xwd", "xwininfo", "xdotool"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: run scripts/test-deps.sh (%v)", bin, err)
		}
	}
	if opts.Cols <= 0 || opts.Rows <= 0 {
		t.Fatalf("xtermtest: size %dx%d", opts.Cols, opts.Rows)
	}
	dir := t.TempDir()
	x := &Term{t: t, cols: opts.Cols, rows: opts.Rows}
	x.display, x.xauth = startXvfb(t, dir)

	argv := opts.Argv
	var fifo string
	if len(argv) == 0 {
		fifo = filepath.Join(dir, "screen.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
		argv = []string{"cat", fifo}
	}
	// env(1) puts opts.Env after what xterm sets (TERM, WINDOWID, …).
	args := []string{
		"-fn", Font, "+sb", "-b", "0", "-bw", "0",
		"-geometry", fmt.Sprintf("%dx%d+0+0", opts.Cols, opts.Rows),
		"-tn", "xterm-256color", "-bg", "black", "-fg", "white",
	}
	for _, r := range append(append([]string{}, defaultResources...), opts.Resources...) {
		args = append(args, "-xrm", r)
	}
	args = append(args, "-e", "env")
	args = append(args, opts.Env...)
	args = append(args, argv...)
	logf, err := os.Create(filepath.Join(dir, "xterm.log"))
	if err != nil {
		t.Fatalf("create xterm log: %v", err)
	}
	defer logf.Close()
	cmd := exec.Command("xterm", args...)
	cmd.Env = xenv(x.display, x.xauth)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start xterm: %v", err)
	}
	// Registered after Xvfb's cleanup, so it runs first: xterm exits
	// cleanly (hanging up the command) while its server is still there.
	done := waitLater(cmd)
	t.Cleanup(func() { stop(cmd, done) })

	x.waitWindow(logf.Name(), done)
	if fifo != "" {
		// Read-write (Linux) so opening never blocks, also if cat never
		// starts; cat reads what is written once it opens the FIFO.
		f, err := os.OpenFile(fifo, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("open screen fifo: %v", err)
		}
		x.fifo = f
		t.Cleanup(func() { _ = f.Close() })
	}
	return x
}

var (
	childLine  = regexp.MustCompile(`(?m)^\s+(0x[0-9a-f]+) .*\("xterm" "XTerm"\)`)
	infoNumber = regexp.MustCompile(`(?m)^\s+(Absolute upper-left X|Absolute upper-left Y|Width|Height):\s+(-?\d+)$`)
)

// waitWindow waits for xterm's top-level window to be mapped and takes
// the pixel geometry from its VT100 widget (the window's only child):
// with no internal border (-b 0) the widget is exactly cols×rows cells,
// so its size gives the cell size and its position the text origin.
func (x *Term) waitWindow(logPath string, exited <-chan struct{}) {
	x.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			x.t.Fatalf("xterm exited before its window was up:\n%s", log)
		default:
		}
		out, err := xcmd(x.display, x.xauth, "xwininfo", "-root", "-children")
		if err != nil {
			last = err.Error()
			continue
		}
		m := childLine.FindSubmatch(out)
		if m == nil {
			last = string(out)
			continue
		}
		top, err := x.info(string(m[1]))
		if err != nil || !top.viewable {
			last = fmt.Sprint(err, top)
			continue
		}
		out, err = xcmd(x.display, x.xauth, "xwininfo", "-id", string(m[1]), "-children")
		if err != nil {
			last = err.Error()
			continue
		}
		kids := regexp.MustCompile(`(?m)^\s+(0x[0-9a-f]+) `).FindAllSubmatch(out, -1)
		if len(kids) != 1 {
			last = string(out)
			continue
		}
		vt, err := x.info(string(kids[0][1]))
		if err != nil || !vt.viewable {
			last = fmt.Sprint(err, vt)
			continue
		}
		if vt.size.X%x.cols != 0 || vt.size.Y%x.rows != 0 {
			x.t.Fatalf("xterm's text window is %v pixels, not a whole number of %dx%d cells", vt.size, x.cols, x.rows)
		}
		x.window = string(m[1])
		x.cell = image.Pt(vt.size.X/x.cols, vt.size.Y/x.rows)
		x.origin = vt.pos.Sub(top.pos)
		return
	}
	log, _ := os.ReadFile(logPath)
	x.t.Fatalf("no xterm window within 60 s: %s\nxterm log:\n%s", last, log)
}

type winInfo struct {
	pos, size image.Point
	viewable  bool
}

func (x *Term) info(id string) (winInfo, error) {
	out, err := xcmd(x.display, x.xauth, "xwininfo", "-id", id)
	if err != nil {
		return winInfo{}, err
	}
	var w winInfo
	for _, m := range infoNumber.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		switch string(m[1]) {
		case "Absolute upper-left X":
			w.pos.X = n
		case "Absolute upper-left Y":
			w.pos.Y = n
		case "Width":
			w.size.X = n
		case "Height":
			w.size.Y = n
		}
	}
	w.viewable = bytes.Contains(out, []byte("Map State: IsViewable"))
	return w, nil
}

// Write sends raw bytes to the screen (only when Options.Argv was
// empty). The terminal line discipline is in its default cooked mode:
// "\n" arrives as "\r\n".
func (x *Term) Write(s string) {
	x.t.Helper()
	if x.fifo == nil {
		x.t.Fatalf("xtermtest: Write needs a Term started without Argv")
	}
	if _, err := x.fifo.WriteString(s); err != nil {
		x.t.Fatalf("write to the terminal: %v", err)
	}
}

// Display is the X display (":N") the terminal is on.
func (x *Term) Display() string { return x.display }

// Cell is the size of one cell in pixels.
func (x *Term) Cell() image.Point { return x.cell }

// CellRect is the pixels of cell (col,row), 0-based, in a Screenshot.
func (x *Term) CellRect(col, row int) image.Rectangle {
	return x.CellsRect(col, row, col, row)
}

// CellsRect is the pixels covering cells (c0,r0) to (c1,r1) inclusive.
func (x *Term) CellsRect(c0, r0, c1, r1 int) image.Rectangle {
	min := x.origin.Add(image.Pt(c0*x.cell.X, r0*x.cell.Y))
	max := x.origin.Add(image.Pt((c1+1)*x.cell.X, (r1+1)*x.cell.Y))
	return image.Rectangle{Min: min, Max: max}
}

// Screenshot is the xterm window as it is on screen now.
func (x *Term) Screenshot() (image.Image, error) {
	out, err := xcmd(x.display, x.xauth, "xwd", "-id", x.window, "-silent")
	if err != nil {
		return nil, err
	}
	return DecodeXWD(bytes.NewReader(out))
}

func (x *Term) String() string {
	return fmt.Sprintf("xterm %dx%d on %s, cell %v, origin %v", x.cols, x.rows, x.display, x.cell, x.origin)
}
