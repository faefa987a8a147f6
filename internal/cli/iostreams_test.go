package cli

import (
	"io"
	"testing"
)

func TestReadLineAndPrompt(t *testing.T) {
	ios, in, _, _ := Test()
	in.WriteString("first\r\nsecond\nlast")
	for _, want := range []string{"first", "second", "last"} {
		if got, err := ios.ReadLine(); got != want || err != nil {
			t.Errorf("ReadLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ios.ReadLine(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
	ios, in, _, errOut := Test()
	in.WriteString("secret\n")
	if p, err := ios.ReadPassword("Password: "); p != "secret" || err != nil || errOut.String() != "Password: " {
		t.Errorf("ReadPassword = %q, %v, prompt %q", p, err, errOut)
	}
}

func TestColorOnlyOnATerminalWithoutNoColor(t *testing.T) {
	ios, _, _, errOut := Test()
	f := NewFactory("rcq-x", ios)
	f.Warnf("careful")
	if errOut.String() != "rcq-x: warning: careful\n" {
		t.Errorf("not a terminal: %q", errOut)
	}
	ios.SetTTY(false, false, true)
	ios.noColor = false
	errOut.Reset()
	f.Warnf("careful")
	if errOut.String() != "rcq-x: \x1b[33mwarning\x1b[0m: careful\n" {
		t.Errorf("terminal: %q", errOut)
	}
	ios.noColor = true // NO_COLOR
	if ios.ColorEnabled() {
		t.Error("colour with NO_COLOR")
	}
}
