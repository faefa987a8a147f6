package api

import (
	"cmp"
	"context"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// outputWatch wakes a follower as soon as its output file changes: an
// inotify watch on the file the follower has open (through
// /proc/self/fd/N, so on the very file opened as the job's user, never on
// a path looked up again), read through Go's poller.
type outputWatch struct {
	events *os.File // the inotify instance, non-blocking
}

// watchOutput watches out. It fails when inotify is unavailable (for
// instance when rcqd's user has used up fs.inotify.max_user_instances);
// the follower then polls.
func watchOutput(out *os.File) (*outputWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	rc, err := out.SyscallConn()
	var werr error
	if err == nil {
		err = rc.Control(func(ofd uintptr) {
			_, werr = unix.InotifyAddWatch(fd, "/proc/self/fd/"+strconv.Itoa(int(ofd)),
				unix.IN_MODIFY|unix.IN_ATTRIB|unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF)
		})
	}
	if err = cmp.Or(err, werr); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &outputWatch{events: os.NewFile(uintptr(fd), "inotify")}, nil
}

// wait returns once the file has changed since the last wait, after at
// most d, or when ctx ends.
func (w *outputWatch) wait(ctx context.Context, d time.Duration) {
	_ = w.events.SetReadDeadline(time.Now().Add(d))
	stop := context.AfterFunc(ctx, func() { _ = w.events.SetReadDeadline(time.Now()) })
	defer stop()
	var buf [4096]byte
	_, _ = w.events.Read(buf[:]) // takes every event queued so far: one wake-up for a burst of writes
}

func (w *outputWatch) Close() error { return w.events.Close() }
