package auth

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/rcq-project/rcq/internal/rcq"
)

const (
	// MinPasswordChars is the shortest password accepted, in characters.
	MinPasswordChars = 8
	// MaxPasswordBytes is bcrypt's limit: it reads only the first 72 bytes of
	// a password, so longer ones are refused rather than silently truncated.
	MaxPasswordBytes = 72
	// DefaultCost is the bcrypt cost with no configuration.
	DefaultCost = 12
	// MinCost and MaxCost bound the configurable cost.
	MinCost = bcrypt.MinCost
	MaxCost = bcrypt.MaxCost
)

// CheckPasswordRules reports whether pw may become a password: at least
// MinPasswordChars characters and at most MaxPasswordBytes bytes. The error is
// an rcq.Invalid naming the field "password" and the limit.
func CheckPasswordRules(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordChars {
		return rcq.Invalid("password", "must be at least %d characters, got %d", MinPasswordChars, n)
	}
	if len(pw) > MaxPasswordBytes {
		return rcq.Invalid("password", "is %d bytes; the limit is %d bytes (bcrypt's limit; multi-byte characters count several bytes)", len(pw), MaxPasswordBytes)
	}
	return nil
}

func checkCost(cost int) error {
	if cost < MinCost || cost > MaxCost {
		return fmt.Errorf("bcrypt cost %d out of range: want %d to %d", cost, MinCost, MaxCost)
	}
	return nil
}

// HashPassword returns the bcrypt hash of pw at the given cost. It refuses a
// password that breaks CheckPasswordRules, and a cost outside MinCost-MaxCost.
func HashPassword(pw string, cost int) (string, error) {
	if err := CheckPasswordRules(pw); err != nil {
		return "", err
	}
	if err := checkCost(cost); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches hash. A password over
// MaxPasswordBytes never matches (bcrypt would compare only its first 72
// bytes), but still costs one bcrypt comparison, as a wrong password does.
func CheckPassword(hash, pw string) bool {
	if len(pw) > MaxPasswordBytes {
		_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw[:MaxPasswordBytes]))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// Passwords hashes and checks passwords at one configured cost, and spends
// the same time on logins for accounts that do not exist.
type Passwords struct {
	cost  int
	dummy []byte // a hash at cost of a random password nobody knows
}

// NewPasswords returns a Passwords hashing at cost. It computes its dummy
// hash once, so it takes one bcrypt hash's time.
func NewPasswords(cost int) (*Passwords, error) {
	if err := checkCost(cost); err != nil {
		return nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("dummy password: %w", err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(b[:])), cost)
	if err != nil {
		return nil, fmt.Errorf("dummy password: %w", err)
	}
	return &Passwords{cost: cost, dummy: h}, nil
}

// Cost returns the bcrypt cost new hashes get.
func (p *Passwords) Cost() int { return p.cost }

// Hash is HashPassword at p's cost.
func (p *Passwords) Hash(pw string) (string, error) { return HashPassword(pw, p.cost) }

// Check is CheckPassword, except that a hash that is not a bcrypt hash (an
// account without a password) still costs the time of a comparison.
func (p *Passwords) Check(hash, pw string) bool {
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		p.DummyCheck(pw)
		return false
	}
	return CheckPassword(hash, pw)
}

// DummyCheck spends the time of one failed CheckPassword at p's cost. Call it
// when a login names an unknown account, so that it takes as long as a wrong
// password for a known one.
func (p *Passwords) DummyCheck(pw string) {
	CheckPassword(string(p.dummy), pw)
}

// NeedsRehash reports whether hash was made at another cost than p's (or is
// not a bcrypt hash), so a successful login may store a fresh hash.
func (p *Passwords) NeedsRehash(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err != nil || c != p.cost
}
