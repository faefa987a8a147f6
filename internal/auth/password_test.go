package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/rcq-project/rcq/internal/rcq"
)

const testCost = bcrypt.MinCost // 4: fast

func TestHashPasswordLimits(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr string // "" = accepted
	}{
		{"7 characters", "1234567", "at least 8 characters"},
		{"8 characters", "12345678", ""},
		{"8 multi-byte characters (24 bytes)", strings.Repeat("€", 8), ""},
		{"7 multi-byte characters", strings.Repeat("€", 7), "at least 8 characters"},
		{"72 bytes", strings.Repeat("a", 72), ""},
		{"73 bytes", strings.Repeat("a", 73), "the limit is 72 bytes"},
		{"75 bytes of multi-byte characters (25 characters)", strings.Repeat("€", 25), "the limit is 72 bytes"},
		{"empty", "", "at least 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := HashPassword(tt.pw, testCost)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("HashPassword: %v", err)
				}
				if !CheckPassword(h, tt.pw) {
					t.Fatal("CheckPassword rejects the password just hashed")
				}
				if CheckPassword(h, tt.pw+"x") || CheckPassword(h, tt.pw[:len(tt.pw)-1]) {
					t.Fatal("CheckPassword accepts a different password")
				}
				return
			}
			if err == nil {
				t.Fatalf("HashPassword accepted %d bytes (%q)", len(tt.pw), tt.pw)
			}
			if rcq.KindOf(err) != rcq.KindInvalid || rcq.CodeOf(err) != "invalid_password" {
				t.Errorf("error kind/code = %v/%s, want invalid/invalid_password", rcq.KindOf(err), rcq.CodeOf(err))
			}
			if msg := rcq.MessageOf(err); !strings.Contains(msg, tt.wantErr) || !strings.HasPrefix(msg, "password: ") {
				t.Errorf("message %q does not say %q", msg, tt.wantErr)
			}
		})
	}
}

func TestHashPasswordCost(t *testing.T) {
	for _, cost := range []int{0, 3, 32} {
		if _, err := HashPassword("correct horse", cost); err == nil {
			t.Errorf("cost %d accepted", cost)
		}
	}
	h, err := HashPassword("correct horse", 5)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost([]byte(h)); c != 5 {
		t.Errorf("hash cost = %d, want 5", c)
	}
}

func TestCheckPasswordOver72Bytes(t *testing.T) {
	pw := strings.Repeat("p", 72)
	h, err := HashPassword(pw, testCost)
	if err != nil {
		t.Fatal(err)
	}
	long := pw + "anything after byte 72"
	// bcrypt alone compares only the first 72 bytes and says yes...
	if bcrypt.CompareHashAndPassword([]byte(h), []byte(long)) != nil {
		t.Fatal("bcrypt no longer truncates: revisit CheckPassword")
	}
	// ...CheckPassword must not.
	if CheckPassword(h, long) {
		t.Fatal("CheckPassword accepted a password over 72 bytes")
	}
	if CheckPassword("not a hash", pw) {
		t.Fatal("CheckPassword accepted against a malformed hash")
	}
}

func TestPasswords(t *testing.T) {
	if _, err := NewPasswords(3); err == nil {
		t.Fatal("NewPasswords accepted cost 3")
	}
	p, err := NewPasswords(testCost)
	if err != nil {
		t.Fatal(err)
	}
	// The dummy hash costs what a real one does, so an unknown account
	// takes as long as a wrong password.
	if c, err := bcrypt.Cost(p.dummy); err != nil || c != testCost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", c, err, testCost)
	}
	h, err := p.Hash("s3cret-enough")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Check(h, "s3cret-enough") || p.Check(h, "s3cret-enougH") {
		t.Fatal("Check disagrees with the password")
	}
	if p.Check("", "s3cret-enough") || p.Check("$2a$04$short", "s3cret-enough") {
		t.Fatal("Check accepted a password against a missing or malformed hash")
	}
	p.DummyCheck("s3cret-enough")
	p.DummyCheck(strings.Repeat("x", 100))
	if p.NeedsRehash(h) {
		t.Error("NeedsRehash for a hash at the current cost")
	}
	old, err := HashPassword("s3cret-enough", testCost+1)
	if err != nil {
		t.Fatal(err)
	}
	if !p.NeedsRehash(old) || !p.NeedsRehash("garbage") {
		t.Error("NeedsRehash false for another cost or a non-hash")
	}
}

// BenchmarkLogin compares what a failed login costs: a wrong password, an
// unknown account (DummyCheck), a password over 72 bytes and an account
// without a hash should all take one bcrypt comparison at the same cost.
func BenchmarkLogin(b *testing.B) {
	const cost = 10
	p, err := NewPasswords(cost)
	if err != nil {
		b.Fatal(err)
	}
	h, err := p.Hash("the right password")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wrong-password", func(b *testing.B) {
		for b.Loop() {
			p.Check(h, "the wrong password")
		}
	})
	b.Run("unknown-account", func(b *testing.B) {
		for b.Loop() {
			p.DummyCheck("the wrong password")
		}
	})
	b.Run("over-72-bytes", func(b *testing.B) {
		long := strings.Repeat("x", 100)
		for b.Loop() {
			p.Check(h, long)
		}
	})
	b.Run("no-hash", func(b *testing.B) {
		for b.Loop() {
			p.Check("", "the wrong password")
		}
	})
}
