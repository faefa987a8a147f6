package api

import "time"

// SetEventTunables changes the event hub's pacing for a test and returns
// a function restoring it. Tests using it must not run in parallel.
func SetEventTunables(buffer int, positions time.Duration) (restore func()) {
	ob, op := eventBuffer, positionEvery
	eventBuffer, positionEvery = buffer, positions
	return func() { eventBuffer, positionEvery = ob, op }
}

// OnEventStreamDropped calls fn (under the hub's lock: it must not block)
// each time a stream that fell behind is dropped, until restore.
func OnEventStreamDropped(fn func()) (restore func()) {
	eventDropped = fn
	return func() { eventDropped = nil }
}

// SetEventHeartbeat changes the heartbeat period until restore.
func SetEventHeartbeat(d time.Duration) (restore func()) {
	old := eventHeartbeat
	eventHeartbeat = d
	return func() { eventHeartbeat = old }
}
