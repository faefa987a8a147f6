package ui

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
)

// stream passes the API's streamed answer (events, a job's output) on to
// the browser as it comes, with the extra headers; an error answer is
// kept instead and returned as an *APIError for the page to show.
func (c *Call) stream(req *http.Request, extra http.Header) error {
	p := &passthrough{w: c.W, extra: extra}
	c.UI.api.ServeHTTP(p, req)
	if p.status >= 300 {
		return errorOf(p.status, p.errBody.Bytes())
	}
	return nil
}

// passthrough is an http.ResponseWriter that writes a 2xx answer through
// and keeps any other.
type passthrough struct {
	w       http.ResponseWriter
	extra   http.Header
	h       http.Header
	status  int
	errBody bytes.Buffer
}

func (p *passthrough) Header() http.Header {
	if p.h == nil {
		p.h = http.Header{}
	}
	return p.h
}

func (p *passthrough) WriteHeader(status int) {
	if p.status != 0 {
		return
	}
	p.status = status
	if status >= 300 {
		return
	}
	dst := p.w.Header()
	for k, vs := range p.h {
		switch k {
		case "Content-Type", "Cache-Control", "Content-Length", "X-Accel-Buffering", "Last-Modified":
			dst[k] = vs
		}
	}
	for k, vs := range p.extra {
		dst[k] = vs
	}
	p.w.WriteHeader(status)
}

func (p *passthrough) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.status >= 300 {
		return p.errBody.Write(b)
	}
	return p.w.Write(b)
}

// Flush sends what was written so far (events and followed output must not
// wait in a buffer).
func (p *passthrough) Flush() {
	if p.status == 0 || p.status >= 300 {
		return
	}
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (write
// deadlines of long streams).
func (p *passthrough) Unwrap() http.ResponseWriter { return p.w }

// events is the page script's event stream: GET /api/events with the
// session's token (an EventSource cannot send headers), resumed from the
// Last-Event-ID the browser sends on reconnecting. ?jobs= narrows it as the
// API's does.
func events(c *Call) error {
	path := "/api/events"
	if j := c.R.URL.Query().Get("jobs"); j != "" {
		path += "?jobs=" + url.QueryEscape(j)
	}
	req := c.UI.apiRequest(c.R, c.Session.Token, http.MethodGet, path, nil)
	req.Header.Set("Accept", "text/event-stream")
	// The browser sends Last-Event-ID when it reconnects by itself; the
	// script, opening a new stream after an error answer, names it in the
	// query.
	id := c.R.Header.Get("Last-Event-ID")
	if id == "" {
		id = c.R.URL.Query().Get("last_event_id")
	}
	if id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	err := c.stream(req, nil)
	if ae, ok := err.(*APIError); ok {
		// The script reads the status: 401 means log in again.
		http.Error(c.W, ae.Msg, ae.Status)
		return nil
	}
	return err
}

// jobOutput is a job's stdout or stderr (?stream=stderr) from GET
// /api/jobs/{id}/output: followed while the job runs (?follow=true, read
// by the page script), or as a download (?download=1).
func jobOutput(c *Call) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	q := c.R.URL.Query()
	stream := q.Get("stream")
	if stream == "" {
		stream = "stdout"
	}
	if stream != "stdout" && stream != "stderr" {
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_stream", Field: "stream", Msg: "stream: " + strconv.Quote(stream) + ": use stdout or stderr"}
	}
	path := "/api/jobs/" + id + "/output?stream=" + stream
	if q.Get("follow") == "true" {
		path += "&follow=true"
	}
	extra := http.Header{}
	if q.Get("download") != "" {
		extra.Set("Content-Disposition", `attachment; filename="job-`+id+`.`+stream+`.txt"`)
	}
	extra.Set("Cache-Control", "no-store")
	req := c.UI.apiRequest(c.R, c.Session.Token, http.MethodGet, path, nil)
	req.Header.Set("Accept", "text/plain")
	return c.stream(req, extra)
}
