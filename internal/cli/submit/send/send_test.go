package send

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestOctalIsUmaskString(t *testing.T) {
	for m := 0; m <= 0o777; m++ {
		if got, want := octal(m), rcq.Umask(m).String(); got != want {
			t.Fatalf("octal(%o) = %q, rcq.Umask's %q", m, got, want)
		}
	}
}

// command is the body of POST /api/jobs/command as encoding/json writes it.
type command struct {
	Program    string   `json:"program"`
	Args       []string `json:"args"`
	Env        []string `json:"env"`
	WorkingDir string   `json:"working_dir"`
	Umask      string   `json:"umask"`
	Script     *string  `json:"script,omitempty"`
}

func TestAppendCommandMatchesEncodingJSON(t *testing.T) {
	script := "#!/bin/sh\n#SBATCH -J \"x\"\necho <é> \xff\n"
	for _, tc := range []struct {
		args      []string
		hasScript bool
	}{
		{[]string{"--hold", "--wrap", "true"}, false},
		{[]string{"-J", "a&b", "job.sh", "arg\x01"}, true},
		{[]string{}, false},
	} {
		env := []string{"HOME=/home/a", "PS1=\\u@\\h ", "BAD=\xfe", "EMPTY="}
		got := appendCommand([]byte("prefix"), "rcq-submit", tc.args, env, "/home/a/ré", 0o27, []byte(script), tc.hasScript)
		c := command{Program: "rcq-submit", Args: tc.args, Env: env, WorkingDir: "/home/a/ré", Umask: "0027"}
		if tc.hasScript {
			c.Script = &script
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("appendCommand =\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

func TestReadAnswer(t *testing.T) {
	for _, tc := range []struct {
		body     string
		out      string
		warnings []string
		ok       bool
	}{
		{`{"message":"Job submitted successfully","job_id":42,"status":"pending","output":"Submitted batch job 42\n"}`, "Submitted batch job 42\n", nil, true},
		{`{"job_id":7,"array_task_count":3,"output":"7\n","warnings":["#SBATCH --partition=x: \"x\" ignored"],"x":null,"y":true}`, "7\n", []string{`#SBATCH --partition=x: "x" ignored`}, true},
		{`{"job_id":42}`, "", nil, false},
		{`{"output":42}`, "", nil, false},
		{`{"output":"1\n","warnings":[1]}`, "", nil, false},
		{`{"output":"1\n"} x`, "", nil, false},
		{`not json`, "", nil, false},
	} {
		out, warnings, ok := readAnswer([]byte(tc.body))
		if ok != tc.ok || ok && (out != tc.out || !slices.Equal(warnings, tc.warnings)) {
			t.Errorf("readAnswer(%s) = %q, %q, %v; want %q, %q, %v", tc.body, out, warnings, ok, tc.out, tc.warnings, tc.ok)
		}
	}
}
