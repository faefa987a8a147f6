package share

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

var groups = []apitype.GroupShare{
	{ID: 1, Name: "default", CPUQuota: 1000, Priority: 1, UsageCPUHours: 30, FairShare: 2,
		Users: []apitype.UserShare{{Email: "ann@lab", UsageCPUHours: 22.5, UsageShare: 0.75}, {Email: "cy@lab", UsageCPUHours: 7.5, UsageShare: 0.25}}},
	{ID: 2, Name: "physics", CPUQuota: 3000, Priority: 2, UsageCPUHours: 10, FairShare: 2},
}

func run(t *testing.T, args ...string) (*clitest.Env, int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/share" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(apitype.ShareList{Groups: groups, Count: len(groups)})
	}))
	t.Cleanup(srv.Close)
	e := clitest.NewEnv(t, "rcq-share", srv.URL)
	e.Vars["RCQ_TOKEN"] = "tok"
	return e, e.Run(NewRootCmd(e.F), args...)
}

func TestOutputs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `Account User    RawShares NormShares RawUsage EffectvUsage FairShare
default              1000   0.250000    30.00     0.750000  2.000000
default ann@lab    parent               22.50     0.750000  2.000000
default cy@lab     parent                7.50     0.250000  2.000000
physics              3000   0.750000    10.00     0.250000  2.000000
`},
		{[]string{"-n", "-P"}, `default||1000|0.250000|30.00|0.750000|2.000000
default|ann@lab|parent||22.50|0.750000|2.000000
default|cy@lab|parent||7.50|0.250000|2.000000
physics||3000|0.750000|10.00|0.250000|2.000000
`},
		{[]string{"--parsable2"}, "Account|User|RawShares|NormShares|RawUsage|EffectvUsage|FairShare\ndefault||1000|0.250000|30.00|0.750000|2.000000\n"},
	} {
		e, code := run(t, c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, e.Stderr)
		}
		got := e.Stdout.String()
		if len(c.args) == 1 {
			got = got[:len(c.want)]
		}
		if got != c.want {
			t.Errorf("%v:\n%s\nwant\n%s", c.args, got, c.want)
		}
	}
}

func TestJSON(t *testing.T) {
	e, code := run(t, "--json")
	var l apitype.ShareList
	if code != 0 || json.Unmarshal(e.Stdout.Bytes(), &l) != nil || l.Count != 2 || len(l.Groups[0].Users) != 2 || l.Groups[1].Users != nil {
		t.Fatalf("exit %d: %s %s", code, e.Stdout, e.Stderr)
	}
	if _, code := run(t, "--json", "-P"); code != 2 {
		t.Errorf("--json -P: exit %d, want 2", code)
	}
}
