package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// A seed database is the original Research Compute Queue's: its tables
// groups, users, workers and jobs (and, optionally, job_dependencies and
// usage_logs) in the schema its connection sees first. seedColumns is
// what ImportSeed reads from each; a database without them is not one.
var seedColumns = []struct {
	table string
	cols  []string
}{
	{"groups", []string{"id", "name", "cpu_quota", "priority"}},
	{"users", []string{"id", "email", "password_hash", "group_id", "is_admin"}},
	{"workers", []string{"id", "hostname", "cpu_cores", "memory_gb", "gpu_count", "status"}},
	{"jobs", []string{"id", "user_id", "group_id", "script", "cpu_cores", "memory_gb", "gpu_count", "estimated_hours",
		"status", "priority", "submitted_at", "started_at", "completed_at", "exit_code", "output_path", "error_message", "worker_id"}},
}

// SeedImportOptions tune ImportSeed.
type SeedImportOptions struct {
	// DefaultEstimatedHours is the time limit of a job whose
	// estimated_hours is missing or 0 (jobs.default_estimated_hours).
	DefaultEstimatedHours float64
}

// SeedCounts is what ImportSeed did with one kind of row.
type SeedCounts struct {
	Copied  int // new rows in rcq
	Matched int // rows rcq already had under the same name or email: mapped to them, not changed
	Already int // rows an earlier import copied or matched
	Skipped int // rows not copied (SeedSummary.Skipped says why)
	// Jobs only: of Copied, how many are history (finished) and pending.
	History, Pending int
}

// SeedSkip is a row ImportSeed did not copy, and why.
type SeedSkip struct {
	Kind   string // group, user, worker, job, dependency
	SeedID int64
	Why    string
}

// SeedSummary is what an import copied and what it skipped.
type SeedSummary struct {
	Source                       string // host:port/dbname of the seed database
	Groups, Users, Workers, Jobs SeedCounts
	Dependencies, Usage          int // dependency edges and usage rows copied
	Skipped                      []SeedSkip
	Notes                        []string // values changed to fit rcq's rules
}

// New reports whether the import copied or mapped anything.
func (s *SeedSummary) New() bool {
	n := 0
	for _, c := range []SeedCounts{s.Groups, s.Users, s.Workers, s.Jobs} {
		n += c.Copied + c.Matched
	}
	return n+s.Dependencies+s.Usage > 0
}

// ErrNotSeed is returned by ImportSeed for a database that lacks a table or
// column of the seed's schema.
var ErrNotSeed = errors.New("not a seed database")

type seedGroup struct {
	ID       int64
	Name     string
	Quota    *float64
	Priority *int
}

type seedUser struct {
	ID      int64
	Email   string
	Hash    string
	GroupID *int64
	IsAdmin *bool
}

type seedWorker struct {
	ID       int64
	Hostname string
	CPUCores int
	MemoryGB int
	GPUCount *int
	Status   *string
}

type seedJob struct {
	ID             int64
	UserID         int64
	GroupID        int64
	Script         string
	CPUCores       int
	MemoryGB       int
	GPUCount       *int
	EstimatedHours *float64
	Status         string
	Priority       *int
	SubmittedAt    *time.Time
	StartedAt      *time.Time
	CompletedAt    *time.Time
	ExitCode       *int
	OutputPath     *string
	ErrorMessage   *string
	WorkerID       *int64
}

// SeedData is a seed database as ReadSeed read it, in one snapshot.
type SeedData = seedData

type seedData struct {
	source  string
	groups  []seedGroup
	users   []seedUser
	workers []seedWorker
	jobs    []seedJob
	deps    [][2]int64          // job, depends on
	usage   map[int64]seedUsage // by job
}

type seedUsage struct {
	CPUHours float64
	LoggedAt *time.Time
}

// ImportSeed copies what ReadSeed read of a seed database: its groups
// (quotas, priorities), users (their bcrypt hashes unchanged), workers
// (offline until an rcqd runs on them) and jobs (finished ones as history,
// pending ones as pending) into rcq, in one transaction: a failure writes
// nothing. Rows an earlier import copied are skipped (seed_imports maps seed
// ids to rcq ids), so a second run copies nothing new.
func (s *Store) ImportSeed(ctx context.Context, d *SeedData, o SeedImportOptions) (*SeedSummary, error) {
	if o.DefaultEstimatedHours <= 0 {
		o.DefaultEstimatedHours = 1
	}
	sum := &SeedSummary{Source: d.source}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One import at a time: two would both find a row unmapped.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('rcq import-seed'))`); err != nil {
			return err
		}
		im := &seedImporter{tx: tx, src: d.source, sum: sum, opts: o, ids: map[string]map[int64]int64{}}
		if err := im.loadMap(ctx); err != nil {
			return err
		}
		for _, step := range []func(context.Context, *seedData) error{im.groups, im.users, im.workers, im.jobs, im.dependencies} {
			if err := step(ctx, d); err != nil {
				return err
			}
		}
		if sum.Jobs.Pending > 0 { // a running rcqd schedules them now, not at its next periodic cycle
			return notify(ctx, tx, rcq.Event{Kind: rcq.EventJobSubmitted})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("import seed", err)
	}
	s.forgetWorkers()
	return sum, nil
}

// ReadSeed checks that seedURL is a seed database and reads it in one
// read-only snapshot; it writes nothing anywhere. A database that is
// unreachable is KindUnavailable; one that lacks the seed's tables is
// ErrNotSeed, naming what is missing.
func ReadSeed(ctx context.Context, seedURL string) (*SeedData, error) {
	return readSeed(ctx, seedURL)
}

// readSeed checks that seedURL is a seed database and reads it in one
// snapshot.
func readSeed(ctx context.Context, seedURL string) (*seedData, error) {
	cfg, err := pgx.ParseConfig(seedURL)
	if err != nil {
		return nil, rcq.Errorf(rcq.KindInvalid, "invalid_url", "--from: cannot parse the seed database URL (check its form: postgres://user:password@host:port/dbname)")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	// The seed's setup_db.sql made its tables in public. Its default
	// search_path ("$user", public) would put rcq's schema first for a
	// role named rcq: look in public unless the URL names a search_path.
	if _, ok := cfg.RuntimeParams["search_path"]; !ok {
		cfg.RuntimeParams["search_path"] = "public"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, &rcq.Error{Kind: rcq.KindUnavailable, Code: "seed_unreachable",
			Msg: "cannot reach the seed database at " + seedSource(cfg, cfg.Database) + ": " + connReason(err), Err: err}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var db string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return nil, wrap("read seed database", err)
	}
	d := &seedData{source: seedSource(cfg, db), usage: map[int64]seedUsage{}}
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := checkSeedSchema(ctx, tx, d.source); err != nil {
			return err
		}
		var err error
		rows, _ := tx.Query(ctx, `SELECT id::bigint, name::text, cpu_quota::float8, priority::int FROM groups ORDER BY id`)
		if d.groups, err = pgx.CollectRows(rows, pgx.RowToStructByPos[seedGroup]); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT id::bigint, email::text, password_hash::text, group_id::bigint, is_admin::bool FROM users ORDER BY id`)
		if d.users, err = pgx.CollectRows(rows, pgx.RowToStructByPos[seedUser]); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT id::bigint, hostname::text, cpu_cores::int, memory_gb::int, gpu_count::int, status::text FROM workers ORDER BY id`)
		if d.workers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[seedWorker]); err != nil {
			return err
		}
		// The seed's timestamps are without time zone, written by its
		// server in UTC (NOW() at the database's zone): read as UTC.
		rows, _ = tx.Query(ctx, `SELECT id::bigint, user_id::bigint, group_id::bigint, script::text, cpu_cores::int, memory_gb::int,
			gpu_count::int, estimated_hours::float8, status::text, priority::int,
			submitted_at::timestamp AT TIME ZONE 'UTC', started_at::timestamp AT TIME ZONE 'UTC', completed_at::timestamp AT TIME ZONE 'UTC',
			exit_code::int, output_path::text, error_message::text, worker_id::bigint
			FROM jobs ORDER BY id`)
		if d.jobs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[seedJob]); err != nil {
			return err
		}
		// Optional tables: read when they have the seed's columns.
		if ok, err := seedHas(ctx, tx, "job_dependencies", "job_id", "depends_on_job_id"); err != nil {
			return err
		} else if ok {
			rows, _ = tx.Query(ctx, `SELECT job_id::bigint, depends_on_job_id::bigint FROM job_dependencies
				WHERE job_id IS NOT NULL AND depends_on_job_id IS NOT NULL ORDER BY 1, 2`)
			var j, on int64
			if _, err := pgx.ForEachRow(rows, []any{&j, &on}, func() error { d.deps = append(d.deps, [2]int64{j, on}); return nil }); err != nil {
				return err
			}
		}
		if ok, err := seedHas(ctx, tx, "usage_logs", "job_id", "cpu_hours_used", "logged_at"); err != nil {
			return err
		} else if ok {
			rows, _ = tx.Query(ctx, `SELECT job_id::bigint, coalesce(sum(cpu_hours_used), 0)::float8, max(logged_at)::timestamp AT TIME ZONE 'UTC'
				FROM usage_logs WHERE job_id IS NOT NULL GROUP BY job_id`)
			var j int64
			var u seedUsage
			if _, err := pgx.ForEachRow(rows, []any{&j, &u.CPUHours, &u.LoggedAt}, func() error { d.usage[j] = u; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		var re *rcq.Error
		if errors.Is(err, ErrNotSeed) || errors.As(err, &re) {
			return nil, err
		}
		return nil, fmt.Errorf("read the seed database at %s: %w", d.source, err)
	}
	return d, nil
}

// checkSeedSchema names the first table or column of the seed's schema the
// database lacks.
func checkSeedSchema(ctx context.Context, tx pgx.Tx, source string) error {
	for _, t := range seedColumns {
		rows, _ := tx.Query(ctx, `SELECT attname::text FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, t.table)
		have, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(have) == 0 {
			return fmt.Errorf("%w: %s has no table %s (a seed database has groups, users, workers and jobs)", ErrNotSeed, source, t.table)
		}
		var missing []string
		for _, c := range t.cols {
			if !slices.Contains(have, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s: table %s has no column %s", ErrNotSeed, source, t.table, strings.Join(missing, ", "))
		}
	}
	return nil
}

// seedHas reports whether table exists with every one of cols.
func seedHas(ctx context.Context, tx pgx.Tx, table string, cols ...string) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attname::text = ANY($2::text[])`, table, cols).Scan(&n)
	return n == len(cols), err
}

// seedSource names a seed database for seed_imports and messages: host,
// port and database, never the user or password.
func seedSource(cfg *pgx.ConnConfig, db string) string {
	return cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + db
}

// connReason is the last, most specific part of a connection error.
func connReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

type seedImporter struct {
	tx   pgx.Tx
	src  string
	sum  *SeedSummary
	opts SeedImportOptions
	ids  map[string]map[int64]int64 // kind -> seed id -> rcq id
}

func (im *seedImporter) loadMap(ctx context.Context) error {
	for _, k := range []string{"group", "user", "worker", "job"} {
		im.ids[k] = map[int64]int64{}
	}
	rows, _ := im.tx.Query(ctx, `SELECT kind, seed_id, rcq_id FROM seed_imports WHERE source = $1`, im.src)
	var kind string
	var seed, id int64
	_, err := pgx.ForEachRow(rows, []any{&kind, &seed, &id}, func() error {
		if im.ids[kind] != nil {
			im.ids[kind][seed] = id
		}
		return nil
	})
	return err
}

func (im *seedImporter) remember(ctx context.Context, kind string, seed, id int64) error {
	im.ids[kind][seed] = id
	_, err := im.tx.Exec(ctx, `INSERT INTO seed_imports (source, kind, seed_id, rcq_id) VALUES ($1, $2, $3, $4)`, im.src, kind, seed, id)
	return err
}

func (im *seedImporter) skip(c *SeedCounts, kind string, id int64, format string, args ...any) {
	c.Skipped++
	im.sum.Skipped = append(im.sum.Skipped, SeedSkip{Kind: kind, SeedID: id, Why: fmt.Sprintf(format, args...)})
}

func (im *seedImporter) note(format string, args ...any) {
	im.sum.Notes = append(im.sum.Notes, fmt.Sprintf(format, args...))
}

// clampPriority fits a seed priority (no range in the seed) into rcq's 1-10.
func (im *seedImporter) clampPriority(kind string, id int64, p *int) int {
	if p == nil {
		return 1
	}
	c := min(max(*p, 1), 10)
	if c != *p {
		im.note("%s %d: priority %d is outside 1-10, copied as %d", kind, id, *p, c)
	}
	return c
}

func (im *seedImporter) groups(ctx context.Context, d *seedData) error {
	c := &im.sum.Groups
	for _, g := range d.groups {
		if _, ok := im.ids["group"][g.ID]; ok {
			c.Already++
			continue
		}
		if g.Name == "" || len(g.Name) > 100 {
			im.skip(c, "group", g.ID, "its name %q is empty or longer than 100 bytes", g.Name)
			continue
		}
		var id int64
		err := im.tx.QueryRow(ctx, `SELECT id FROM groups WHERE name = $1`, g.Name).Scan(&id)
		switch {
		case err == nil:
			c.Matched++
		case errors.Is(err, pgx.ErrNoRows):
			quota := 100.0 // the seed's own default
			if g.Quota != nil {
				quota = *g.Quota
			}
			if quota < 0 {
				im.skip(c, "group", g.ID, "its cpu_quota %g is negative", quota)
				continue
			}
			if err := im.tx.QueryRow(ctx, `INSERT INTO groups (name, cpu_quota, priority) VALUES ($1, $2, $3) RETURNING id`,
				g.Name, quota, im.clampPriority("group", g.ID, g.Priority)).Scan(&id); err != nil {
				return err
			}
			c.Copied++
		default:
			return err
		}
		if err := im.remember(ctx, "group", g.ID, id); err != nil {
			return err
		}
	}
	return nil
}

func (im *seedImporter) users(ctx context.Context, d *seedData) error {
	c := &im.sum.Users
	var defaultGroup *int64
	var dg int64
	if err := im.tx.QueryRow(ctx, `SELECT id FROM groups WHERE name = 'default'`).Scan(&dg); err == nil {
		defaultGroup = &dg
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	for _, u := range d.users {
		if _, ok := im.ids["user"][u.ID]; ok {
			c.Already++
			continue
		}
		email := strings.TrimSpace(u.Email)
		if email == "" || len(email) > 254 {
			im.skip(c, "user", u.ID, "its email %q is empty or longer than 254 bytes", u.Email)
			continue
		}
		var id int64
		err := im.tx.QueryRow(ctx, `SELECT id FROM users WHERE lower(email) = lower($1)`, email).Scan(&id)
		switch {
		case err == nil:
			c.Matched++
			im.note("user %d (%s): rcq already has this account; kept its password, group and admin flag", u.ID, email)
		case errors.Is(err, pgx.ErrNoRows):
			var group int64
			switch gid, ok := im.groupOf(u.GroupID); {
			case ok:
				group = gid
			case defaultGroup != nil:
				group = *defaultGroup
				if u.GroupID == nil {
					im.note("user %d (%s): no group in the seed, put in group default", u.ID, email)
				} else {
					im.note("user %d (%s): its group %d was not copied, put in group default", u.ID, email, *u.GroupID)
				}
			default:
				im.skip(c, "user", u.ID, "(%s) its group was not copied and rcq has no group default", email)
				continue
			}
			admin := u.IsAdmin != nil && *u.IsAdmin
			if err := im.tx.QueryRow(ctx, `INSERT INTO users (email, password_hash, group_id, is_admin) VALUES ($1, $2, $3, $4) RETURNING id`,
				email, u.Hash, group, admin).Scan(&id); err != nil {
				return err
			}
			c.Copied++
		default:
			return err
		}
		if err := im.remember(ctx, "user", u.ID, id); err != nil {
			return err
		}
	}
	return nil
}

func (im *seedImporter) groupOf(seed *int64) (int64, bool) {
	if seed == nil {
		return 0, false
	}
	id, ok := im.ids["group"][*seed]
	return id, ok
}

func (im *seedImporter) workers(ctx context.Context, d *seedData) error {
	c := &im.sum.Workers
	for _, w := range d.workers {
		if _, ok := im.ids["worker"][w.ID]; ok {
			c.Already++
			continue
		}
		if w.Hostname == "" || len(w.Hostname) > 100 {
			im.skip(c, "worker", w.ID, "its hostname %q is empty or longer than 100 bytes", w.Hostname)
			continue
		}
		var id int64
		err := im.tx.QueryRow(ctx, `SELECT id FROM workers WHERE name = $1 AND deleted_at IS NULL`, w.Hostname).Scan(&id)
		switch {
		case err == nil:
			c.Matched++
		case errors.Is(err, pgx.ErrNoRows):
			gpus := 0
			if w.GPUCount != nil {
				gpus = *w.GPUCount
			}
			if w.CPUCores < 1 || w.MemoryGB < 0 || gpus < 0 {
				im.skip(c, "worker", w.ID, "(%s) %d cores, %d GB, %d GPUs: rcq needs at least 1 core and no negative size", w.Hostname, w.CPUCores, w.MemoryGB, gpus)
				continue
			}
			// Offline: no rcqd runs there yet. An rcqd started on that
			// host registers its machine under this name and brings it
			// online.
			if err := im.tx.QueryRow(ctx, `INSERT INTO workers (name, node, cpu_cores, memory_gb, gpu_count, status)
				VALUES ($1, $1, $2, $3, $4, 'offline') RETURNING id`, w.Hostname, w.CPUCores, w.MemoryGB, gpus).Scan(&id); err != nil {
				return err
			}
			c.Copied++
		default:
			return err
		}
		if err := im.remember(ctx, "worker", w.ID, id); err != nil {
			return err
		}
	}
	return nil
}

func (im *seedImporter) jobs(ctx context.Context, d *seedData) error {
	c := &im.sum.Jobs
	for i := range d.jobs {
		j := &d.jobs[i]
		if _, ok := im.ids["job"][j.ID]; ok {
			c.Already++
			continue
		}
		id, why, err := im.job(ctx, d, j)
		if err != nil {
			return err
		}
		if why != "" {
			im.skip(c, "job", j.ID, "%s", why)
			continue
		}
		c.Copied++
		if j.Status == "pending" {
			c.Pending++
		} else {
			c.History++
		}
		if err := im.remember(ctx, "job", j.ID, id); err != nil {
			return err
		}
	}
	return nil
}

// job copies one seed job: its new id, or why it is not copied.
func (im *seedImporter) job(ctx context.Context, d *seedData, j *seedJob) (int64, string, error) {
	switch j.Status {
	case "pending", "completed", "failed", "cancelled":
	case "running":
		return 0, "running in the seed: let it finish there, then import again", nil
	default:
		return 0, fmt.Sprintf("its status %q is not one of the seed's", j.Status), nil
	}
	user, ok := im.ids["user"][j.UserID]
	if !ok {
		return 0, fmt.Sprintf("its user %d was not copied", j.UserID), nil
	}
	group, ok := im.ids["group"][j.GroupID]
	if !ok {
		if err := im.tx.QueryRow(ctx, `SELECT group_id FROM users WHERE id = $1`, user).Scan(&group); err != nil {
			return 0, "", err
		}
		im.note("job %d: its group %d was not copied, charged to its user's group", j.ID, j.GroupID)
	}
	if strings.TrimSpace(j.Script) == "" {
		return 0, "its script is empty", nil
	}
	gpus := 0
	if j.GPUCount != nil {
		gpus = *j.GPUCount
	}
	if j.CPUCores < 1 || j.MemoryGB < 0 || gpus < 0 {
		return 0, fmt.Sprintf("%d cores, %d GB, %d GPUs: rcq needs at least 1 core and no negative size", j.CPUCores, j.MemoryGB, gpus), nil
	}
	mem := j.MemoryGB
	if mem < 1 { // rcq's jobs ask for at least 1 GB
		mem = 1
	}
	hours := im.opts.DefaultEstimatedHours
	if j.EstimatedHours != nil && *j.EstimatedHours > 0 {
		hours = *j.EstimatedHours
	}
	submitted := time.Now()
	if j.SubmittedAt != nil {
		submitted = *j.SubmittedAt
	}
	var started, completed *time.Time
	var worker *int64
	var exit *int
	reason, detail := "", ""
	if j.ErrorMessage != nil {
		detail = *j.ErrorMessage
	}
	output := ""
	if j.OutputPath != nil {
		output = *j.OutputPath
	}
	if j.Status != "pending" {
		exit = j.ExitCode
		if j.WorkerID != nil {
			if w, ok := im.ids["worker"][*j.WorkerID]; ok {
				worker = &w
			}
		}
		if worker != nil && j.StartedAt != nil {
			started = j.StartedAt
		}
		if j.Status == "completed" && started == nil {
			return 0, "completed without a start time or a copied worker", nil
		}
		completed = j.CompletedAt
		if completed == nil { // an ended job must not look like it still holds its worker
			at := submitted
			if started != nil {
				at = *started
			}
			completed = &at
			im.note("job %d: %s without a completion time, given its start (or submit) time", j.ID, j.Status)
		}
		if started != nil && completed.Before(*started) {
			return 0, "it completed before it started", nil
		}
		switch j.Status {
		case "failed":
			reason = rcq.ReasonNonZeroExit
		case "cancelled":
			reason = rcq.ReasonCancelledByUser
		}
	}
	var id int64
	err := im.tx.QueryRow(ctx, `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count, estimated_hours, priority,
			status, reason, reason_detail, output_path, submitted_at, started_at, completed_at, exit_code, worker_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		user, group, j.Script, j.CPUCores, mem, gpus, hours, im.clampPriority("job", j.ID, j.Priority),
		j.Status, reason, detail, output, submitted, started, completed, exit, worker).Scan(&id)
	if err != nil {
		return 0, "", err
	}
	if u, ok := d.usage[j.ID]; ok && j.Status != "pending" {
		h, at := u.CPUHours, u.LoggedAt
		if at == nil {
			at = completed
		}
		if h >= 0 {
			if _, err := im.tx.Exec(ctx, `INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at)
				VALUES ($1, $2, $3, $4, 0, $5)`, group, user, id, h, at); err != nil {
				return 0, "", err
			}
			im.sum.Usage++
		}
	}
	return id, "", nil
}

// dependencies copies the seed's job_dependencies between jobs both copied
// (afterok: the seed ran a job after the ones it depends on completed) onto
// pending jobs; an edge to a job not copied is dropped, and said.
func (im *seedImporter) dependencies(ctx context.Context, d *seedData) error {
	for _, e := range d.deps {
		job, ok := im.ids["job"][e[0]]
		if !ok {
			continue // the job itself was not copied: already said
		}
		var pending bool
		if err := im.tx.QueryRow(ctx, `SELECT status = 'pending' FROM jobs WHERE id = $1`, job).Scan(&pending); err != nil {
			return err
		}
		on, ok := im.ids["job"][e[1]]
		if !ok {
			if pending {
				im.sum.Skipped = append(im.sum.Skipped, SeedSkip{Kind: "dependency", SeedID: e[0],
					Why: fmt.Sprintf("job %d's dependency on job %d: that job was not copied", e[0], e[1])})
			}
			continue
		}
		tag, err := im.tx.Exec(ctx, `INSERT INTO job_dependencies (job_id, depends_on, type)
			SELECT $1, $2, 'afterok' WHERE NOT EXISTS (SELECT 1 FROM job_dependencies WHERE job_id = $1 AND depends_on = $2)`, job, on)
		if err != nil {
			return err
		}
		im.sum.Dependencies += int(tag.RowsAffected())
	}
	return nil
}
