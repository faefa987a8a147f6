// Package config reads rcqd's configuration: command-line flags, then the
// environment, then a YAML file, then defaults, the first that sets a key
// winning. It is the only package that imports viper; what it returns is the
// plain Config struct.
//
// Every key has a YAML name ("scheduler.max_concurrent_jobs"), an environment
// name made from it (RCQ_SCHEDULER_MAX_CONCURRENT_JOBS) and, for the keys the
// original design had, a plain alias (MAX_CONCURRENT_JOBS) that the RCQ_ name
// beats. Keys lists them all with their defaults and one line of help, so the
// daemon's help and the documentation are rendered from one table.
//
// The file is --config (or RCQ_CONFIG), else $XDG_CONFIG_HOME/rcq/rcqd.yaml
// (~/.config/rcq/rcqd.yaml), else /etc/rcq/rcqd.yaml: the first that exists.
// A missing default file is fine; a missing --config file is an error, and so
// is an unknown key in the file.
package config
