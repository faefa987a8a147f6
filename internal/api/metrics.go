package api

import (
	"net/http"

	"github.com/rcq-project/rcq/internal/rcq"
)

// metrics is GET /metrics: the Prometheus text format (internal/metrics).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.MetricsHandler == nil {
		return rcq.Errorf(rcq.KindNotFound, "no_route", "no such route: %s %s", r.Method, r.URL.Path)
	}
	s.MetricsHandler.ServeHTTP(w, r)
	return nil
}
