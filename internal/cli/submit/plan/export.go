package plan

import (
	"fmt"
	"strings"
)

// secretVars never travel with --export=ALL: the job has no use for the
// submitter's token.
var secretVars = map[string]bool{"RCQ_TOKEN": true}

// BuildEnv computes the job's environment from an --export value and the
// submitting environment (KEY=value entries):
//
//   - "" or "ALL": every variable of environ;
//   - "NONE": nothing (rcqd still sets the job's RCQ_* and SLURM_* variables);
//   - "VAR,VAR2=value": only those; VAR takes its value from environ;
//   - "ALL,VAR2=value" or "NONE,VAR": the first word picks the base.
func BuildEnv(spec string, environ []string) (map[string]string, error) {
	current := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			current[k] = v
		}
	}
	env := map[string]string{}
	items := strings.Split(spec, ",")
	if strings.TrimSpace(spec) == "" {
		items = []string{"ALL"}
	}
	for i, item := range items {
		item = strings.TrimSpace(item)
		switch {
		case i == 0 && strings.EqualFold(item, "ALL"):
			for k, v := range current {
				if !secretVars[k] {
					env[k] = v
				}
			}
			continue
		case i == 0 && strings.EqualFold(item, "NONE"):
			continue
		case item == "":
			return nil, fmt.Errorf("%q has an empty item: use ALL, NONE, or VAR,VAR=value", spec)
		}
		name, value, hasValue := strings.Cut(item, "=")
		if !validVarName(name) {
			return nil, fmt.Errorf("%q is not a variable name: use ALL, NONE, or VAR,VAR=value", name)
		}
		if hasValue {
			env[name] = value
		} else if v, ok := current[name]; ok {
			env[name] = v
		}
	}
	return env, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
