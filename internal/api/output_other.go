//go:build !linux

package api

import (
	"context"
	"errors"
	"os"
	"time"
)

// outputWatch is Linux's inotify; elsewhere followers poll.
type outputWatch struct{}

func watchOutput(*os.File) (*outputWatch, error) { return nil, errors.New("no inotify") }

func (*outputWatch) wait(context.Context, time.Duration) {}

func (*outputWatch) Close() error { return nil }
