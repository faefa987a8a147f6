package rcq

import "strings"

// JobUpdate is a change to a pending job (scontrol update): nil fields stay
// as they are.
type JobUpdate struct {
	Name           *string
	EstimatedHours *float64 // the time limit
	Priority       *int
	// Dependencies, when not nil, replaces the job's dependencies; an empty
	// list removes them all.
	Dependencies *[]Dependency
}

// Empty reports whether u changes nothing.
func (u *JobUpdate) Empty() bool {
	return u.Name == nil && u.EstimatedHours == nil && u.Priority == nil && u.Dependencies == nil
}

// Check validates u against lim and says whether the caller may apply it to
// the pending job j. Who may change what:
//
//   - the owner may rename the job and change its dependencies;
//   - the owner may lower its time limit and its priority, never raise them
//     (Forbidden, code admin_required, naming the rule): a user must not buy a
//     place in the queue after submitting;
//   - an admin may change any field in either direction, within lim.
//
// A dependency must name a job submitted before j (a smaller id) and not j
// itself, so updates cannot make a cycle; that the jobs exist and are the
// owner's is the store's check.
func (u *JobUpdate) Check(j *Job, admin bool, lim Limits) error {
	if u.Empty() {
		return Invalid("update", "nothing to change: give name, estimated_hours, priority or dependencies")
	}
	if u.Name != nil {
		if err := lim.CheckJobName(strings.TrimSpace(*u.Name)); err != nil {
			return err
		}
	}
	if u.EstimatedHours != nil {
		h := *u.EstimatedHours
		if err := lim.CheckEstimatedHours(h); err != nil {
			return err
		}
		if h > j.EstimatedHours && !admin {
			return Errorf(KindForbidden, "admin_required",
				"job %d: only an admin may raise a time limit (%g hours now, %g asked); you may lower it", j.ID, j.EstimatedHours, h)
		}
	}
	if u.Priority != nil {
		p := *u.Priority
		if err := PriorityRange.Check(p); err != nil {
			return err
		}
		if p > j.Priority && !admin {
			return Errorf(KindForbidden, "admin_required",
				"job %d: only an admin may raise a priority (%d now, %d asked); you may lower it", j.ID, j.Priority, p)
		}
	}
	if u.Dependencies != nil {
		deps := *u.Dependencies
		if len(deps) > lim.MaxDependencies {
			return Invalid("dependencies", "at most %d per job, got %d", lim.MaxDependencies, len(deps))
		}
		for _, d := range deps {
			if !ValidDependencyType(d.Type) {
				return Invalid("dependencies", "type %q: use "+DependencyTypes, d.Type)
			}
			if d.JobID <= 0 {
				return Invalid("dependencies", "job_id must be a positive job id")
			}
			// An array's elements were all submitted with the array: its id
			// bounds theirs, so no element can wait on a job that waits on
			// the array (a cycle).
			first := j.ID
			if j.Array != nil {
				first = j.Array.ID
			}
			if d.JobID >= first {
				return Invalid("dependencies", "job %d may depend only on jobs submitted before it (ids below %d), not on %d", j.ID, first, d.JobID)
			}
		}
	}
	return nil
}

// Apply makes the change on j (after Check).
func (u *JobUpdate) Apply(j *Job) {
	if u.Name != nil {
		j.Name = strings.TrimSpace(*u.Name)
	}
	if u.EstimatedHours != nil {
		j.EstimatedHours = *u.EstimatedHours
	}
	if u.Priority != nil {
		j.Priority = *u.Priority
	}
	if u.Dependencies != nil {
		j.Dependencies = append([]Dependency(nil), (*u.Dependencies)...)
	}
}
