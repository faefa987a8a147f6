// Package executor runs the jobs the scheduler started on this node, for real.
//
// The Executor is a level-triggered reconcile loop: on every wake-up (Notify,
// or a periodic tick) it reads the jobs of its node from the store and diffs
// them with what it supervises. A running job it does not know is launched
// (or adopted after a restart); a cancelled job whose processes are alive is
// terminated; a job whose processes ended is finished in the store with one
// call.
//
// Each job runs under its own supervisor process: the rcqd binary re-executed
// in a hidden mode (SuperviseMain). The supervisor holds the job's process
// group, enforces its time limit, forwards a cancel (SIGTERM, grace, SIGKILL
// to the group), collects its usage, and writes the exit status into the job's
// directory <state dir>/jobs/<id>/. Supervisors run in their own sessions and
// outlive rcqd, so a restarted rcqd adopts live jobs and finishes exited ones
// with their real results.
//
// Files in a job directory (the supervisor protocol):
//
//	spec.json    written by the executor before launch: the script text stored at submit,
//	             interpreter, args, environment, output paths, user, limits, CPUs, and the
//	             job's cgroups (one cgroup v2 directory, or cgroup v1 directories by controller)
//	(the dir)    flock(LOCK_EX) on the directory itself: taken by the executor before the
//	             fork, inherited as fd 3 and held by the supervisor for its whole life
//	pid          "<supervisor pid> <start ticks>\n", written right after startup
//	job.pid      "<job pid = process group> <start ticks>\n", written once the script started
//	status.json  the exit status, written atomically (temp + rename) just before the
//	             supervisor exits: state, reason, detail, exit code, signal, times, CPU, memory
//
// A live supervisor is one that holds the lock; the pid file names it. A
// directory without a pid file never started its script.
//
// Limits: New chooses once how jobs are confined (cgroupMode: cgroup v2,
// cgroup v1, or CPU affinity alone) and names each job's cgroups in its spec;
// the supervisor creates them (jobCgroup, rebuilt from the spec), starts the
// job inside them, reads the OOM count, peak memory and CPU time from them,
// and removes them at the end. An executor that finds a supervisor dead
// removes them instead (killLeftovers).
package executor
