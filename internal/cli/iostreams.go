package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	noColor                        bool

	// readPassword reads a secret without echo; tests replace it.
	readPassword func() (string, error)
	lines        *bufio.Reader
}

// System returns the process's streams.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	io := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		noColor:   noColor || os.Getenv("TERM") == "dumb",
	}
	io.readPassword = func() (string, error) {
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		return string(b), err
	}
	return io
}

// Test returns streams over buffers: stdin, stdout and stderr, none a terminal.
func Test() (ios *IOStreams, in *bytes.Buffer, out *bytes.Buffer, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	ios = &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}
	return ios, in, out, errOut
}

// SetTTY marks the streams as terminals or not (for tests).
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether colour may be written to stderr: only on a
// terminal, and never when NO_COLOR is set.
func (s *IOStreams) ColorEnabled() bool { return s.stderrTTY && !s.noColor }

// ReadLine reads one line from standard input, without its newline. At end
// of input with nothing read it returns io.EOF.
func (s *IOStreams) ReadLine() (string, error) {
	if s.lines == nil {
		s.lines = bufio.NewReader(s.In)
	}
	line, err := s.lines.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	return strings.TrimRight(line, "\r\n"), err
}

// Prompt writes prompt on stderr and reads a line from stdin.
func (s *IOStreams) Prompt(prompt string) (string, error) {
	fmt.Fprint(s.ErrOut, prompt)
	return s.ReadLine()
}

// ReadPassword writes prompt on stderr and reads a line without echo when
// stdin is a terminal (a plain line otherwise).
func (s *IOStreams) ReadPassword(prompt string) (string, error) {
	fmt.Fprint(s.ErrOut, prompt)
	if s.stdinTTY && s.readPassword != nil {
		p, err := s.readPassword()
		fmt.Fprintln(s.ErrOut)
		return p, err
	}
	return s.ReadLine()
}
