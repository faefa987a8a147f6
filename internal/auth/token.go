package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Claims are what a token says about its holder. Version is the user's token
// version when the token was issued; the API compares it with the store's, so
// a logout or a password change invalidates every older token.
type Claims struct {
	UserID  rcq.UserID  `json:"uid"`
	GroupID rcq.GroupID `json:"gid"`
	Admin   bool        `json:"adm"`
	Version int         `json:"ver"`
	jwt.RegisteredClaims
}

// Token error codes, stable across the wire.
const (
	CodeTokenExpired = "token_expired"
	CodeInvalidToken = "invalid_token"
)

// ErrTokenExpired and ErrInvalidToken match, with errors.Is, what Verify returns.
var (
	ErrTokenExpired = &rcq.Error{Kind: rcq.KindUnauthorized, Code: CodeTokenExpired}
	ErrInvalidToken = &rcq.Error{Kind: rcq.KindUnauthorized, Code: CodeInvalidToken}
)

// signingMethod is the only algorithm rcq signs with or accepts.
var signingMethod = jwt.SigningMethodHS256

// Signer issues and verifies tokens with one HS256 secret.
type Signer struct {
	secret []byte
	issuer string
	ttl    time.Duration
	leeway time.Duration
}

// NewSigner returns a Signer whose tokens name issuer and live for ttl. The
// secret is copied. A Signer with an empty secret signs and verifies nothing.
func NewSigner(secret []byte, issuer string, ttl time.Duration) *Signer {
	return &Signer{secret: append([]byte(nil), secret...), issuer: issuer, ttl: ttl}
}

// WithLeeway returns a copy of s that tolerates clock differences up to d
// when checking exp, nbf and iat (several rcqd machines sharing one secret).
func (s *Signer) WithLeeway(d time.Duration) *Signer {
	c := *s
	c.leeway = d
	return &c
}

// TTL returns how long the tokens s issues live.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Sign issues a token for u, valid from now for the Signer's ttl, and returns
// it with its expiry time.
func (s *Signer) Sign(u rcq.User, now time.Time) (string, time.Time, error) {
	if len(s.secret) == 0 {
		return "", time.Time{}, errors.New("sign token: no signing secret")
	}
	if s.ttl <= 0 {
		return "", time.Time{}, errors.New("sign token: token lifetime must be positive")
	}
	if u.ID <= 0 {
		return "", time.Time{}, errors.New("sign token: user has no id")
	}
	var jti [12]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, err
	}
	now = now.Truncate(time.Second) // JWT times are whole seconds
	exp := now.Add(s.ttl)
	c := Claims{
		UserID:  u.ID,
		GroupID: u.GroupID,
		Admin:   u.IsAdmin,
		Version: u.TokenVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   strconv.FormatInt(int64(u.ID), 10),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        hex.EncodeToString(jti[:]),
		},
	}
	tok, err := jwt.NewWithClaims(signingMethod, c).SignedString(s.secret)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// Verify checks token's signature (HS256 only, under s's secret), its expiry
// (required), issue and not-before times against now, and its issuer, and
// returns its claims. Every failure is KindUnauthorized: code token_expired
// when the token has expired and is otherwise sound, invalid_token otherwise;
// the cause is kept in Err for the log.
func (s *Signer) Verify(token string, now time.Time) (*Claims, error) {
	if len(s.secret) == 0 {
		return nil, invalidToken(errors.New("no signing secret"))
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(s.issuer),
		jwt.WithLeeway(s.leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var c Claims
	_, err := p.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method != signingMethod { // pinned again, whatever the parser's options
			return nil, errors.New("unexpected signing method")
		}
		return s.secret, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, &rcq.Error{Kind: rcq.KindUnauthorized, Code: CodeTokenExpired,
			Msg: "token expired: run rcq-login", Err: err}
	default:
		return nil, invalidToken(err)
	}
	if c.IssuedAt == nil {
		return nil, invalidToken(errors.New("token has no iat claim"))
	}
	if c.UserID <= 0 || c.Subject != strconv.FormatInt(int64(c.UserID), 10) {
		return nil, invalidToken(errors.New("token names no user"))
	}
	return &c, nil
}

func invalidToken(cause error) error {
	return &rcq.Error{Kind: rcq.KindUnauthorized, Code: CodeInvalidToken, Msg: "invalid token: run rcq-login", Err: cause}
}
