package store

// ClusterHistorySQL is the query ClusterHistory runs, for the plan test.
var ClusterHistorySQL = clusterHistorySQL
