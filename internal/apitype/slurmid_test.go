package apitype

import "testing"

func TestSlurmID(t *testing.T) {
	arr, task := int64(123), 4
	for _, tc := range []struct {
		job  Job
		want string
	}{
		{Job{ID: 7}, "7"},
		{Job{ID: 130, ArrayJobID: &arr, ArrayTaskID: &task}, "123_4"},
		{Job{ID: 123, ArrayJobID: &arr, ArrayTasks: "5-99", ArrayThrottle: 8}, "123_[5-99%8]"},
		{Job{ID: 123, ArrayJobID: &arr, ArrayTasks: "1,3"}, "123_[1,3]"},
	} {
		if got := tc.job.SlurmID(); got != tc.want {
			t.Errorf("SlurmID of %+v = %q, want %q", tc.job, got, tc.want)
		}
		q := QueueJob{ID: tc.job.ID, ArrayJobID: tc.job.ArrayJobID, ArrayTaskID: tc.job.ArrayTaskID, ArrayTasks: tc.job.ArrayTasks, ArrayThrottle: tc.job.ArrayThrottle}
		if got := q.SlurmID(); got != tc.want {
			t.Errorf("QueueJob SlurmID = %q, want %q", got, tc.want)
		}
		a := AcctJob{ID: tc.job.ID, ArrayJobID: tc.job.ArrayJobID, ArrayTaskID: tc.job.ArrayTaskID, ArrayTasks: tc.job.ArrayTasks, ArrayThrottle: tc.job.ArrayThrottle}
		if got := a.SlurmID(); got != tc.want {
			t.Errorf("AcctJob SlurmID = %q, want %q", got, tc.want)
		}
	}
}
