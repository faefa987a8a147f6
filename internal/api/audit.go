package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// actor is who makes r as the audit log records it: the account, the
// socket peer's uid or the client's address, and the request id (chi's
// RequestID middleware; "" without it).
func (s *Server) actor(r *http.Request, u *rcq.User) rcq.Actor {
	c := connInfo(r)
	peer := c.Peer
	if !c.Unix {
		peer = s.clientAddr(r)
	}
	return rcq.Actor{ID: u.ID, Email: u.Email, Peer: peer, RequestID: middleware.GetReqID(r.Context())}
}

// clientAddr is a TCP client's address: the connection's peer or, when
// that is a trusted proxy, the rightmost X-Forwarded-For hop that is not
// one (as clientKey finds it, without grouping), "ADDR via PROXY".
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if a, err := netip.ParseAddr(hop); err != nil || !s.trusted(a) {
			return hop + " via " + host
		}
	}
	return host
}

// auditRefused records a refused call of an admin route, in its own
// transaction (there is no change to join). The caller is refused whether
// or not the row could be written; a row that could not is logged.
func (s *Server) auditRefused(ctx context.Context, r *http.Request, rt Route) {
	err := s.Store.WriteAudit(ctx, rcq.AuditEntry{Action: "admin.denied", TargetKind: rcq.AuditRoute,
		TargetID: rt.Method + " " + rt.Pattern, Outcome: rcq.AuditRefused, Detail: "not an admin"})
	if err != nil {
		s.Logger.Error("audit: could not record a refused admin call", "method", r.Method, "route", rt.Pattern, "err", err)
	}
}

// listAudit is GET /api/admin/audit: rows newest first, filtered by
// since/until (RFC 3339), actor (an email or an account id), target
// (KIND or KIND:ID, e.g. worker:3, job:42) and action (group.update, or a
// prefix ending in a dot: job.), a page of limit rows; cursor pages on.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f rcq.AuditFilter
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			var err error
			if *t.to, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return rcq.Invalid(t.name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
			}
		}
	}
	if v := q.Get("actor"); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			f.ActorID = rcq.UserID(id)
		} else if strings.Contains(v, "@") {
			f.ActorEmail = v
		} else {
			return rcq.Invalid("actor", "%q: give an account's email or id", v)
		}
	}
	if v := q.Get("target"); v != "" {
		kind, id, _ := strings.Cut(v, ":")
		switch kind {
		case rcq.AuditGroup, rcq.AuditAccount, rcq.AuditWorker, rcq.AuditJob, rcq.AuditJobs, rcq.AuditRoute:
		default:
			return rcq.Invalid("target", "%q: use KIND or KIND:ID with KIND one of group, account, worker, job, jobs, route", v)
		}
		f.TargetKind, f.TargetID = kind, id
	}
	if v := q.Get("action"); v != "" {
		if len(v) > 100 {
			return rcq.Invalid("action", "is longer than 100 bytes")
		}
		f.Action = v
	}
	limit, err := s.pageLimit(q, 1000)
	if err != nil {
		return err
	}
	if f.Before, err = parseAuditCursor(q.Get("cursor")); err != nil {
		return err
	}
	f.Limit = limit + 1 // one more tells whether a next page exists
	es, err := s.Store.AuditEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := apitype.AuditList{Events: make([]apitype.AuditEvent, 0, min(len(es), limit))}
	if len(es) > limit {
		es = es[:limit]
		out.Next = auditCursor(es[limit-1].ID)
	}
	for _, e := range es {
		out.Events = append(out.Events, apitype.AuditEvent{ID: e.ID, At: e.At, ActorID: int64(e.ActorID), ActorEmail: e.ActorEmail,
			Peer: e.Peer, Action: e.Action, TargetKind: e.TargetKind, TargetID: e.TargetID, Before: e.Before, After: e.After,
			RequestID: e.RequestID, Outcome: e.Outcome, Detail: e.Detail})
	}
	out.Count = len(out.Events)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// An audit cursor is "a" and the id of the last row listed, base64url.
func auditCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "a%d", id))
}

func parseAuditCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var id int64
	if err == nil {
		_, err = fmt.Sscanf(string(b), "a%d", &id)
	}
	if err != nil || id <= 0 || auditCursor(id) != s {
		return 0, badCursor()
	}
	return id, nil
}
