package srun

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rcq-project/rcq/internal/cli"
	"golang.org/x/sys/unix"
)

// forwarded are the signals srun passes on to its tasks.
var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGCONT}

// task is one running copy of the command.
type task struct {
	id   int
	cmd  *exec.Cmd
	code int // exit code; 128+N after signal N
	how  string
}

// srunRun runs the step and returns an ExitError with the worst task's exit
// code when it is not 0.
func srunRun(opts *Options) error {
	f := opts.F
	need := opts.NTasks * max(opts.CPUsPerTask, 1)
	if have, err := strconv.Atoi(f.Getenv("SLURM_CPUS_ON_NODE")); err == nil && need > have && !opts.Overcommit {
		return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("error: Unable to create step for job %s: More processors requested than permitted (%d tasks x %d CPUs, the job has %d; --overcommit runs them anyway)",
			f.Getenv("RCQ_JOB_ID"), opts.NTasks, max(opts.CPUsPerTask, 1), have)}
	}
	dir := opts.Chdir
	if dir == "" {
		wd, err := f.Getwd()
		if err != nil {
			return err
		}
		dir = wd
	} else if !filepath.IsAbs(dir) {
		wd, err := f.Getwd()
		if err != nil {
			return err
		}
		dir = filepath.Join(wd, dir)
	}
	st := newStep(opts, nextStepID(f))
	files := &openFiles{dir: dir, append: opts.OpenMode == "append", byPath: map[string]*os.File{}}
	defer files.closeAll()

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)

	tasks := make([]*task, opts.NTasks)
	var copiers sync.WaitGroup
	var outMu sync.Mutex
	stdinFor, err := stdinSource(opts, st, files)
	if err != nil {
		return err
	}
	base := f.Environ()
	ownOut, ownErr := lockedStreams(f.IO.Out, f.IO.ErrOut)
	// Pdeathsig is sent when the thread that started the child exits: keep
	// the starts on one thread that outlives them (it returns to the pool).
	runtime.LockOSThread()
	for i := range tasks {
		cmd := exec.Command(opts.Argv[0], opts.Argv[1:]...)
		cmd.Env = st.env(base, opts.Export, i, opts.CPUsPerTask)
		cmd.Dir = dir
		cmd.SysProcAttr = taskAttr()
		t := &task{id: i, cmd: cmd}
		tasks[i] = t
		if err == nil {
			cmd.Stdin, err = stdinFor(i)
		}
		var stdout, stderr io.Writer
		if err == nil {
			stdout, stderr, err = outputs(opts, st, files, ownOut, ownErr, i)
		}
		if err != nil {
			break
		}
		if opts.Label {
			stdout = labelled(stdout, i, &outMu, &copiers)
			stderr = labelled(stderr, i, &outMu, &copiers)
		}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Start(); err != nil {
			t.code, t.how = 2, "execve(): "+opts.Argv[0]+": "+startError(err)
			closeLabels(cmd)
			tasks[i].cmd = nil
		}
	}
	runtime.UnlockOSThread()
	for _, f := range files.afterStart {
		f.Close()
	}
	if err != nil {
		for _, t := range tasks {
			if t != nil && t.cmd != nil && t.cmd.Process != nil {
				unix.Kill(-t.cmd.Process.Pid, unix.SIGKILL)
				t.cmd.Wait()
			}
		}
		return err
	}

	done := make(chan *task, len(tasks))
	running := 0
	for _, t := range tasks {
		if t.cmd == nil {
			continue
		}
		running++
		go func(t *task) {
			t.cmd.Wait()
			closeLabels(t.cmd)
			ws := t.cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case ws.Signaled():
				t.code = 128 + int(ws.Signal())
				t.how = strsignal(ws.Signal())
			default:
				t.code = ws.ExitStatus()
				if t.code != 0 {
					t.how = "Exited with exit code " + strconv.Itoa(t.code)
				}
			}
			done <- t
		}(t)
	}
	killed := false
	for running > 0 {
		select {
		case sig := <-sigs:
			for _, t := range tasks {
				// A task's group outlives it while its children run:
				// they get the signal too (ESRCH once all are gone).
				if t.cmd != nil && t.cmd.Process != nil {
					unix.Kill(-t.cmd.Process.Pid, sig.(syscall.Signal))
				}
			}
		case t := <-done:
			running--
			if t.code != 0 && opts.KillOnBadExit == 1 && !killed {
				killed = true
				fmt.Fprintf(f.IO.ErrOut, "srun: error: task %d exited with %d: terminating StepId=%s.%d (--kill-on-bad-exit)\n", t.id, t.code, st.JobID, st.StepID)
				for _, o := range tasks {
					if o != t && o.cmd != nil && o.cmd.Process != nil {
						unix.Kill(-o.cmd.Process.Pid, unix.SIGKILL)
					}
				}
			}
		}
	}
	copiers.Wait()
	worst := 0
	for _, t := range tasks {
		if t.how != "" {
			fmt.Fprintf(f.IO.ErrOut, "srun: error: %s: task %d: %s\n", st.Node, t.id, t.how)
		}
		worst = max(worst, t.code)
	}
	if worst != 0 {
		return &cli.ExitError{Code: worst}
	}
	return nil
}

// startError is why a task could not start, as execve(2) would say it.
func startError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, exec.ErrNotFound) {
		return "No such file or directory"
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// strsignal names a signal as Slurm prints it: "Killed", "Terminated".
func strsignal(s syscall.Signal) string {
	n := s.String()
	if n == "" {
		return "Signal " + strconv.Itoa(int(s))
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// openFiles opens each output or input path once, so tasks whose patterns
// expand to one path share one file.
type openFiles struct {
	dir    string
	append bool
	byPath map[string]*os.File
	// afterStart are the tasks' ends of pipes, closed once they started.
	afterStart []*os.File
}

func (o *openFiles) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(o.dir, p)
}

func (o *openFiles) output(p string) (*os.File, error) {
	p = o.path(p)
	if f, ok := o.byPath[p]; ok {
		return f, nil
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if o.append {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(p, flags, 0o666)
	if err != nil {
		return nil, fmt.Errorf("error: Could not open output file %s: %w", p, errors.Unwrap(err))
	}
	o.byPath[p] = f
	return f, nil
}

func (o *openFiles) closeAll() {
	for _, f := range o.byPath {
		f.Close()
	}
}

// outputs are task i's stdout and stderr: srun's own, or the files of -o
// and -e (-e defaults to where -o goes), or /dev/null ("none", or another
// task's number).
func outputs(opts *Options, st *step, files *openFiles, ownOut, ownErr io.Writer, i int) (io.Writer, io.Writer, error) {
	pick := func(pattern string, own io.Writer) (io.Writer, error) {
		switch {
		case pattern == "":
			return own, nil
		case pattern == "none":
			return nil, nil // exec.Cmd: /dev/null
		case isNumber(pattern):
			if n, _ := strconv.Atoi(pattern); n == i {
				return own, nil
			}
			return nil, nil
		}
		f, err := files.output(st.expand(pattern, i))
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	out, err := pick(opts.Output, ownOut)
	if err != nil {
		return nil, nil, err
	}
	errPattern, errOwn := opts.Error, ownErr
	if errPattern == "" && opts.Output != "" && !isNumber(opts.Output) {
		errPattern = opts.Output
	}
	errw, err := pick(errPattern, errOwn)
	if err != nil {
		return nil, nil, err
	}
	return out, errw, nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// stdinSource returns what each task reads: -i none or another task's
// number gives /dev/null; a pattern opens a file per task; "all" (the
// default) gives every task what srun reads, copied to each, or srun's own
// stdin when there is one task or it is /dev/null.
func stdinSource(opts *Options, st *step, files *openFiles) (func(int) (io.Reader, error), error) {
	in := opts.F.IO.In
	switch mode := opts.Input; {
	case mode == "none":
		return func(int) (io.Reader, error) { return nil, nil }, nil
	case isNumber(mode):
		n, _ := strconv.Atoi(mode)
		return func(i int) (io.Reader, error) {
			if i == n {
				return in, nil
			}
			return nil, nil
		}, nil
	case mode != "" && mode != "all":
		return func(i int) (io.Reader, error) {
			f, err := os.Open(files.path(st.expand(mode, i)))
			if err != nil {
				return nil, fmt.Errorf("error: Could not open stdin file: %w", err)
			}
			files.afterStart = append(files.afterStart, f)
			return f, nil
		}, nil
	}
	if opts.NTasks == 1 || isDevNull(in) {
		return func(int) (io.Reader, error) { return in, nil }, nil
	}
	// Broadcast: one pipe per task, fed by one copier; a task that stops
	// reading (or exits) is dropped, the others keep getting the input.
	ws := make([]*os.File, opts.NTasks)
	rs := make([]*os.File, opts.NTasks)
	for i := range ws {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		rs[i], ws[i] = r, w
		files.afterStart = append(files.afterStart, r)
	}
	// Not waited for: it may block reading srun's stdin after the tasks end.
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := in.Read(buf)
			for i, w := range ws {
				if w != nil && n > 0 {
					if _, werr := w.Write(buf[:n]); werr != nil {
						w.Close()
						ws[i] = nil
					}
				}
			}
			if err != nil {
				break
			}
		}
		for _, w := range ws {
			if w != nil {
				w.Close()
			}
		}
	}()
	return func(i int) (io.Reader, error) { return rs[i], nil }, nil
}

// isDevNull reports whether r is the null device.
func isDevNull(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	a, err1 := f.Stat()
	b, err2 := os.Stat(os.DevNull)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// labelled returns a pipe whose lines are written to w prefixed with
// "task: ", whole lines at a time (mu keeps lines of tasks apart).
func labelled(w io.Writer, id int, mu *sync.Mutex, copiers *sync.WaitGroup) io.Writer {
	if w == nil {
		return nil
	}
	r, pw := io.Pipe()
	copiers.Add(1)
	go func() {
		defer copiers.Done()
		br := bufio.NewReader(r)
		prefix := strconv.Itoa(id) + ": "
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if !strings.HasSuffix(line, "\n") {
					line += "\n"
				}
				mu.Lock()
				io.WriteString(w, prefix+line)
				mu.Unlock()
			}
			if err != nil {
				r.Close()
				return
			}
		}
	}()
	return labelWriter{pw}
}

// labelWriter marks the label pipes, which are closed when their task ends.
type labelWriter struct{ *io.PipeWriter }

func closeLabels(cmd *exec.Cmd) {
	for _, w := range []io.Writer{cmd.Stdout, cmd.Stderr} {
		if lw, ok := w.(labelWriter); ok {
			lw.Close()
		}
	}
}

// lockedStreams returns srun's stdout and stderr for several tasks to
// write to at once: files as they are (the kernel orders the writes),
// anything else behind one lock.
func lockedStreams(out, errOut io.Writer) (io.Writer, io.Writer) {
	_, f1 := out.(*os.File)
	_, f2 := errOut.(*os.File)
	if f1 && f2 {
		return out, errOut
	}
	mu := &sync.Mutex{}
	return &lockedWriter{mu: mu, w: out}, &lockedWriter{mu: mu, w: errOut}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
