package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// profile starts a CPU profile of rcqd for seconds (GET /debug/pprof/profile
// over the Unix socket, as admin) when -profile is set, and returns a
// function that waits for it and writes DIR/name.pprof. Profiles are for
// finding what bounds a missed goal; they cost rcqd a few percent.
func (b *Bench) profile(ctx context.Context, d *daemon, name string, seconds int) (wait func()) {
	if b.profileDir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := filepath.Join(b.profileDir, name+".pprof")
		if err := d.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), path); err != nil {
			fmt.Fprintf(b.log, "rcq-bench: profile %s: %v\n", name, err)
			return
		}
		fmt.Fprintf(b.log, "  profile of rcqd: %s\n", path)
	}()
	return func() { <-done }
}

// fetch GETs path from rcqd over its socket with the admin token into file.
func (d *daemon) fetch(ctx context.Context, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://rcq"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.Token)
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
