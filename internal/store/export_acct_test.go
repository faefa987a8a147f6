package store

// AcctJobsSQL is the query AcctJobs runs, for the plan test.
var AcctJobsSQL = acctJobsSQL
