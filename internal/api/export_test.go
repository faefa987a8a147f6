package api

import "github.com/go-chi/chi/v5"

// Mux exposes the chi router to the tests, so they can walk the routes it
// actually serves (chi.Walk) and check each has a declared policy.
func (s *Server) Mux() chi.Routes { return s.handler.(*chi.Mux) }
