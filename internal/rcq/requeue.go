package rcq

// CheckRequeue says whether j may be put back in the queue by hand
// (rcq-control requeue, scontrol requeue): a job that ran, running or ended
// since it started, and that was not submitted with --no-requeue (which,
// as in Slurm, means never, not even by an admin). Each refusal is a
// Conflict saying why.
func (j *Job) CheckRequeue() error {
	switch {
	case j.State == JobPending:
		return Errorf(KindConflict, "job_pending", "job %d is pending: it is in the queue already, so there is no run to requeue", j.ID)
	case !j.State.CanBecome(JobPending):
		return Errorf(KindConflict, "job_not_requeueable", "job %d is %s: it cannot be requeued", j.ID, j.State)
	case j.StartedAt == nil:
		return Errorf(KindConflict, "job_never_ran", "job %d was %s before it started: it has no run to requeue; submit the script again", j.ID, j.State)
	case j.Requeue != nil && !*j.Requeue:
		return Errorf(KindConflict, "requeue_disabled", "job %d was submitted with --no-requeue: it is never requeued; submit the script again", j.ID)
	}
	return nil
}

// RequeueStates are the states a job may be requeued from by hand: running
// and every end state (CanBecome pending).
func RequeueStates() []JobState {
	var out []JobState
	for _, s := range JobStates {
		if s.CanBecome(JobPending) {
			out = append(out, s)
		}
	}
	return out
}

// RequeuedBy is the reason detail of a job requeued by hand: who did it.
func RequeuedBy(email string) string {
	return "requeued by " + email
}
