package paths

import "testing"

func TestDefaultStateDirAndSocket(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		root        bool
		state, sock string
	}{
		{"root", map[string]string{"HOME": "/root", "XDG_RUNTIME_DIR": "/run/user/0"}, true, "/var/lib/rcq", "/run/rcq/rcqd.sock"},
		{"XDG", map[string]string{"HOME": "/home/a", "XDG_STATE_HOME": "/s", "XDG_RUNTIME_DIR": "/run/user/1"}, false, "/s/rcq", "/run/user/1/rcq/rcqd.sock"},
		{"HOME only", map[string]string{"HOME": "/home/a"}, false, "/home/a/.local/state/rcq", "/home/a/.local/state/rcq/rcqd.sock"},
		{"relative XDG ignored", map[string]string{"HOME": "/home/a", "XDG_STATE_HOME": "s", "XDG_RUNTIME_DIR": "r"}, false, "/home/a/.local/state/rcq", "/home/a/.local/state/rcq/rcqd.sock"},
		{"nothing", map[string]string{}, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			state := DefaultStateDir(lookup, tt.root)
			sock := DefaultSocket(lookup, tt.root, state)
			if state != tt.state || sock != tt.sock {
				t.Errorf("got %q, %q; want %q, %q", state, sock, tt.state, tt.sock)
			}
		})
	}
}
