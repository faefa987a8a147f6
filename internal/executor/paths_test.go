package executor

import (
	"os/user"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestExpandPattern(t *testing.T) {
	j := &rcq.Job{ID: 42, Name: "train", UnixUser: "alice"}
	for _, c := range []struct{ in, want string }{
		{"plain.out", "plain.out"},
		{"%j.out", "42.out"},
		{"%x-%j-%u.log", "train-42-alice.log"},
		{"%4j", "0042"},
		{"%1j", "42"},
		{"100%%-%j", "100%-42"},
		{"%%j", "%j"},
		{"%q%j", "%q42"},
		{"end%", "end%"},
		{"end%12", "end%12"},
		{"%A", "42"},
	} {
		if got := ExpandPattern(c.in, j); got != c.want {
			t.Errorf("ExpandPattern(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	noName := &rcq.Job{ID: 1, UserEmail: "bob/x@example.org"}
	if got := ExpandPattern("%x-%u", noName); got != "job-bob_x" {
		t.Errorf("defaults and '/' in a value: %q", got)
	}
}

func TestOutputPaths(t *testing.T) {
	j := &rcq.Job{ID: 7, WorkingDir: "/home/a/run"}
	if o, e := OutputPaths(j); o != "/home/a/run/rcq-7.out" || e != o {
		t.Errorf("default: %q %q", o, e)
	}
	if o, e := OutputPathsIn(j, "/scratch/out"); o != "/scratch/out/rcq-7.out" || e != o {
		t.Errorf("with an output directory: %q %q", o, e)
	}
	j.Output, j.Error = "logs/%j.out", "/abs/%j.err"
	if o, e := OutputPaths(j); o != "/home/a/run/logs/7.out" || e != "/abs/7.err" {
		t.Errorf("patterns: %q %q", o, e)
	}
	j.Output = "../../../etc/x"
	if o, _ := OutputPaths(j); o != "/etc/x" {
		t.Errorf("a relative path is cleaned, and refused later by permissions, not here: %q", o)
	}
}

func TestInterpreter(t *testing.T) {
	for _, c := range []struct {
		script string
		want   []string
	}{
		{"echo hi\n", []string{"/bin/bash"}},
		{"#!/bin/sh\necho\n", []string{"/bin/sh"}},
		{"#!/usr/bin/env python3\n", []string{"/usr/bin/env", "python3"}},
		{"#! /bin/bash -el \r\n", []string{"/bin/bash", "-el"}},
		{"#!/usr/bin/env -S a b\n", []string{"/usr/bin/env", "-S a b"}},
		{"#!\n", []string{"/bin/bash"}},
	} {
		if got := interpreter(c.script); !slices.Equal(got, c.want) {
			t.Errorf("interpreter(%q) = %q, want %q", c.script, got, c.want)
		}
	}
}

func TestJobEnvStripsSecretsAndOverrides(t *testing.T) {
	j := &rcq.Job{ID: 5, Name: "n", WorkingDir: "/w", Env: []string{
		"HOME=/home/a", "RCQ_DATABASE_URL=postgres://u:pw@h/db", "DATABASE_URL=x", "JWT_SECRET=y",
		"RCQ_JWT_SECRET_FILE=/etc/rcq/jwt", "RCQ_AUTH_JWT_SECRET=q", "RCQ_SOME_PASSWORD=z", "PGPASSWORD=p", "RCQ_JOB_ID=999",
		"CUDA_VISIBLE_DEVICES=0,1,2,3", "RCQ_SERVER=unix:///run/rcq.sock",
	}, Resources: rcq.Resources{CPUCores: 1}}
	env := strings.Join(jobEnv(j), "\n") + "\n"
	for _, bad := range []string{"postgres://", "DATABASE_URL", "JWT_SECRET", "PASSWORD", "RCQ_JOB_ID=999", "0,1,2,3"} {
		if strings.Contains(env, bad) {
			t.Errorf("environment holds %q:\n%s", bad, env)
		}
	}
	for _, good := range []string{"HOME=/home/a\n", "RCQ_SERVER=unix:///run/rcq.sock\n", "RCQ_JOB_ID=5\n", "CUDA_VISIBLE_DEVICES=\n"} {
		if !strings.Contains(env, good) {
			t.Errorf("environment lacks %q:\n%s", good, env)
		}
	}
}

// A job submitted with --export=NONE still has what login(1) sets: its
// user's HOME, USER, LOGNAME and SHELL, and a safe PATH; what the submitter
// sent is kept.
func TestLoginEnv(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	env := strings.Join(loginEnv(nil, u.Username), "\n") + "\n"
	for _, want := range []string{"HOME=" + u.HomeDir + "\n", "USER=" + u.Username + "\n", "LOGNAME=" + u.Username + "\n", "PATH=" + safePath + "\n", "SHELL=/"} {
		if !strings.Contains(env, want) {
			t.Errorf("login environment lacks %q:\n%s", want, env)
		}
	}
	env = strings.Join(loginEnv([]string{"PATH=/opt/bin", "HOME=/w"}, u.Username), "\n") + "\n"
	if !strings.Contains(env, "PATH=/opt/bin\n") || !strings.Contains(env, "HOME=/w\n") || strings.Count(env, "PATH=") != 1 {
		t.Errorf("the submitter's PATH and HOME must be kept:\n%s", env)
	}
	full := []string{"HOME=/h", "USER=u", "LOGNAME=u", "SHELL=/bin/zsh", "PATH=/p"}
	if got := loginEnv(full, "no-such-user-here"); !slices.Equal(got, full) {
		t.Errorf("a complete environment changed: %q", got)
	}
}
