package daemon_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestMetricsListen: with metrics.listen set, rcqd serves GET /metrics on
// that address and nothing else there; the API's TCP address never serves
// /metrics; the socket does.
func TestMetricsListen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	d := startDaemon(t, t.TempDir(), "RCQ_METRICS_LISTEN=127.0.0.1:0")
	api := d.ready()
	m := regexp.MustCompile(`metrics:\s+(http://\S+/metrics)`).FindStringSubmatch(d.log())
	if m == nil {
		t.Fatalf("the banner names no metrics address:\n%s", d.log())
	}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(m[1]); code != http.StatusOK || !strings.Contains(body, "\nrcq_state_up 1\n") || !strings.Contains(body, `rcq_worker_cpus{node="testnode"`) {
		t.Errorf("GET %s: %d\n%s", m[1], code, body)
	}
	if code, _ := get(strings.TrimSuffix(m[1], "/metrics") + "/health"); code != http.StatusNotFound {
		t.Errorf("the metrics address serves /health: %d", code)
	}
	if code, _ := get("http://" + api + "/metrics"); code != http.StatusNotFound {
		t.Errorf("the API's TCP address serves /metrics: %d", code)
	}
	if code := d.api("GET", "/metrics", "", nil, nil); code != http.StatusOK {
		t.Errorf("GET /metrics on the socket: %d", code)
	}
	d.stop()

	d2 := startDaemon(t, t.TempDir())
	d2.ready()
	if !strings.Contains(d2.log(), "metrics:    socket only") {
		t.Errorf("default banner:\n%s", d2.log())
	}
	d2.stop()
}
