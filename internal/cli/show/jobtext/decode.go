package jobtext

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/jsonscan"
	"github.com/rcq-project/rcq/internal/rcq"
)

// decodeJob is json.Unmarshal of rcqd's answer to GET /api/jobs/{id} into
// a zero apitype.Job. The object rcqd writes (its keys spelled as tagged, each
// once) is read by a scanner written for apitype.Job: encoding/json's
// reflection over the job's 43 fields on its first use cost about as much as
// the rest of rcq-show's own work. Anything else - another key or spelling,
// a repeated key, null where a value belongs, a number or string needing
// encoding/json's judgement - is left to encoding/json, so the result and the
// error are always encoding/json's (TestDecodeJobMatchesEncodingJSON,
// FuzzDecodeJob).
func decodeJob(data []byte) (apitype.Job, error) {
	var j apitype.Job
	s := scanner{jsonscan.Scanner{B: data}}
	if s.job(&j) && s.End() {
		return j, nil
	}
	j = apitype.Job{}
	err := json.Unmarshal(data, &j)
	return j, err
}

// scanner reads apitype.Job's values; each method reports false for
// anything it does not take, and the whole input is then left to
// encoding/json.
type scanner struct{ jsonscan.Scanner }

// object reads an object, calling member for each key with the scanner at
// its value; a key seen twice is refused (encoding/json merges repeated
// objects and arrays into what the first one left), and so is a key that
// is not plain ASCII (rcqd's keys are).
func (s *scanner) object(member func(key string) bool) bool {
	var seen []string
	return s.Members(func(raw []byte, plain bool) bool {
		k := string(raw[1 : len(raw)-1])
		if !plain || slices.Contains(seen, k) {
			return false
		}
		seen = append(seen, k)
		return true
	}, func() bool { return member(seen[len(seen)-1]) })
}

func (s *scanner) null() bool { return s.Literal("null") }

func (s *scanner) str() (string, bool) {
	raw, _, ok := s.String()
	if !ok {
		return "", false
	}
	return jsonscan.Unquote(raw)
}

func (s *scanner) int64() (int64, bool) {
	tok, integer, ok := s.Number()
	if !ok || !integer {
		return 0, false
	}
	v, err := strconv.ParseInt(string(tok), 10, 64)
	return v, err == nil
}

func (s *scanner) int() (int, bool) {
	v, ok := s.int64()
	return int(v), ok && int64(int(v)) == v
}

func (s *scanner) float() (float64, bool) {
	tok, _, ok := s.Number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	return v, err == nil
}

func (s *scanner) bool() (v, ok bool) {
	if s.Literal("true") {
		return true, true
	}
	return false, s.Literal("false")
}

// time reads a time as time.Time's UnmarshalJSON does, from the quoted
// string as it stands (escapes and all, as encoding/json hands it over).
func (s *scanner) time(t *time.Time) bool {
	raw, _, ok := s.String()
	return ok && t.UnmarshalJSON(raw) == nil
}

// timePtr reads a time or null.
func (s *scanner) timePtr(t **time.Time) bool {
	if s.null() {
		*t = nil
		return true
	}
	var v time.Time
	if !s.time(&v) {
		return false
	}
	*t = &v
	return true
}

func (s *scanner) int64Ptr(p **int64) bool {
	if s.null() {
		*p = nil
		return true
	}
	v, ok := s.int64()
	*p = &v
	return ok
}

func (s *scanner) intPtr(p **int) bool {
	if s.null() {
		*p = nil
		return true
	}
	v, ok := s.int()
	*p = &v
	return ok
}

func (s *scanner) strings(p *[]string) bool {
	out := []string{}
	ok := s.Elements(func() bool {
		v, ok := s.str()
		out = append(out, v)
		return ok
	})
	*p = out
	return ok
}

func (s *scanner) ints(p *[]int) bool {
	out := []int{}
	ok := s.Elements(func() bool {
		v, ok := s.int()
		out = append(out, v)
		return ok
	})
	*p = out
	return ok
}

// setStr and the like assign a value read by the scanner.
func setStr(s *scanner, p *string) (ok bool)    { *p, ok = s.str(); return ok }
func setInt(s *scanner, p *int) (ok bool)       { *p, ok = s.int(); return ok }
func setInt64(s *scanner, p *int64) (ok bool)   { *p, ok = s.int64(); return ok }
func setFloat(s *scanner, p *float64) (ok bool) { *p, ok = s.float(); return ok }

func (s *scanner) job(j *apitype.Job) bool {
	return s.object(func(k string) bool {
		switch k {
		case "id":
			return setInt64(s, &j.ID)
		case "user_id":
			return setInt64(s, &j.UserID)
		case "user":
			return setStr(s, &j.User)
		case "unix_user":
			return setStr(s, &j.UnixUser)
		case "group_id":
			return setInt64(s, &j.GroupID)
		case "name":
			return setStr(s, &j.Name)
		case "script":
			return setStr(s, &j.Script)
		case "args":
			return s.strings(&j.Args)
		case "working_dir":
			return setStr(s, &j.WorkingDir)
		case "cpu_cores":
			return setInt(s, &j.CPUCores)
		case "memory_gb":
			return setInt(s, &j.MemoryGB)
		case "gpu_count":
			return setInt(s, &j.GPUCount)
		case "estimated_hours":
			return setFloat(s, &j.EstimatedHours)
		case "priority":
			return setInt(s, &j.Priority)
		case "status":
			return setStr(s, &j.Status)
		case "reason":
			return setStr(s, &j.Reason)
		case "reason_detail":
			return setStr(s, &j.ReasonDetail)
		case "hold":
			return setStr(s, &j.Hold)
		case "dependencies":
			j.Dependencies = []apitype.Dependency{}
			return s.Elements(func() bool {
				var d apitype.Dependency
				ok := s.dependency(&d)
				j.Dependencies = append(j.Dependencies, d)
				return ok
			})
		case "submitted_at":
			return s.time(&j.SubmittedAt)
		case "started_at":
			return s.timePtr(&j.StartedAt)
		case "completed_at":
			return s.timePtr(&j.CompletedAt)
		case "worker_id":
			return s.int64Ptr(&j.WorkerID)
		case "worker":
			return setStr(s, &j.Worker)
		case "gpu_indices":
			return s.ints(&j.GPUIndices)
		case "exit_code":
			return s.intPtr(&j.ExitCode)
		case "signal":
			return setStr(s, &j.Signal)
		case "output_path":
			return setStr(s, &j.OutputPath)
		case "error_path":
			return setStr(s, &j.ErrorPath)
		case "error_message":
			return setStr(s, &j.ErrorMessage)
		case "umask":
			return setStr(s, &j.Umask)
		case "cpu_seconds":
			return setFloat(s, &j.CPUSeconds)
		case "peak_memory_kb":
			return setInt64(s, &j.PeakMemoryKB)
		case "rank":
			return setInt(s, &j.Rank)
		case "computed_priority":
			if s.null() {
				j.Computed = nil
				return true
			}
			j.Computed = &rcq.PriorityFactors{}
			return s.priority(j.Computed)
		case "expected_start":
			return s.timePtr(&j.ExpectedStart)
		case "array_job_id":
			return s.int64Ptr(&j.ArrayJobID)
		case "array_task_id":
			return s.intPtr(&j.ArrayTaskID)
		case "array_tasks":
			return setStr(s, &j.ArrayTasks)
		case "array_throttle":
			return setInt(s, &j.ArrayThrottle)
		case "requeue":
			if s.null() {
				j.Requeue = nil
				return true
			}
			v, ok := s.bool()
			j.Requeue = &v
			return ok
		case "restarts":
			return setInt(s, &j.Restarts)
		case "requeued_at":
			return s.timePtr(&j.RequeuedAt)
		}
		return false
	})
}

func (s *scanner) dependency(d *apitype.Dependency) bool {
	return s.object(func(k string) bool {
		switch k {
		case "type":
			return setStr(s, &d.Type)
		case "job_id":
			return setInt64(s, &d.JobID)
		case "array_task_id":
			return s.intPtr(&d.ArrayTaskID)
		case "state":
			return setStr(s, &d.State)
		}
		return false
	})
}

func (s *scanner) priority(p *rcq.PriorityFactors) bool {
	return s.object(func(k string) bool {
		switch k {
		case "base":
			return setFloat(s, &p.Base)
		case "fair_share":
			return setFloat(s, &p.FairShare)
		case "wait_boost":
			return setFloat(s, &p.WaitBoost)
		case "final":
			return setFloat(s, &p.Final)
		}
		return false
	})
}
