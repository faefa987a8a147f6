package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// jobRef reads the {id} of a job route: a job ref, "123" (a job, or a whole
// array), "123_4" or "123_[1-3,7]" (brackets and commas may be
// URL-escaped).
func jobRef(r *http.Request) (rcq.JobRef, error) {
	raw := chi.URLParam(r, "id")
	s, err := url.PathUnescape(raw)
	if err != nil {
		s = raw
	}
	ref, err := rcq.ParseJobRef(s)
	if err != nil {
		return rcq.JobRef{}, rcq.Invalid("id", "%q is not %s", s, rcq.JobRefForm)
	}
	return ref, nil
}

// oneJobRef is a ref that names one job: a job id or one element.
func oneJobRef(r *http.Request) (rcq.JobRef, error) {
	ref, err := jobRef(r)
	if err == nil && ref.Tasks != nil && ref.Tasks.Len() != 1 {
		return ref, rcq.Invalid("id", "%q names several elements; this route takes one job (123) or one element (123_4)", ref)
	}
	return ref, err
}

// parseRefs reads a comma-separated list of job refs, where a comma inside
// brackets belongs to the ref (123_[1-3,7],200).
func parseRefs(field, v string, max int) ([]rcq.JobRef, error) {
	var refs []rcq.JobRef
	depth, start := 0, 0
	add := func(part string) error {
		part = strings.TrimSpace(part)
		ref, err := rcq.ParseJobRef(part)
		if err != nil {
			return rcq.Invalid(field, "%q: must be a comma-separated list of job ids (123), array elements (123_4) or elements (123_[1-3,7])", part)
		}
		refs = append(refs, ref)
		return nil
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				if err := add(v[start:i]); err != nil {
					return nil, err
				}
				start = i + 1
			}
		}
	}
	if err := add(v[start:]); err != nil {
		return nil, err
	}
	if len(refs) > max {
		return nil, rcq.Invalid(field, "at most %d job ids at once (jobs.max_page_size)", max)
	}
	return refs, nil
}

// callerRefJob is the one job a ref names, if the caller may see it: a job,
// or an array element (a pending element not yet split off is shown as the
// array's row with its index). A job's read carries the request's account
// check; an element's, which cannot, follows a fresh authentication.
func (s *Server) callerRefJob(r *http.Request) (*rcq.Job, error) {
	ref, err := oneJobRef(r)
	if err != nil {
		return nil, err
	}
	if ref.Tasks == nil {
		return s.Store.JobByIDChecked(r.Context(), accountCheck(r), ref.JobID, owner(r))
	}
	if accountCheck(r) != nil {
		if r, err = s.reauthenticate(r); err != nil {
			return nil, err
		}
	}
	return s.Store.ArrayElement(r.Context(), ref.JobID, ref.Tasks.Min(), owner(r))
}

// eachRow applies act to every row ref names for the caller (elements split
// off first when split), and returns how many it acted on. A ref naming one
// row returns act's error as it is; for several rows, Conflicts (an element
// already ended, or not running) are skipped, and only when every row was
// skipped is the first one returned, for the ref.
func (s *Server) eachRow(ctx context.Context, r *http.Request, split bool, act func(rcq.JobID) error) (rcq.JobRef, int, error) {
	ref, err := jobRef(r)
	if err != nil {
		return ref, 0, err
	}
	ids, err := s.Store.ResolveRef(ctx, ref, owner(r), split)
	if err != nil {
		return ref, 0, err
	}
	if len(ids) == 1 {
		return ref, 1, act(ids[0])
	}
	var first error
	n := 0
	for _, id := range ids {
		err := act(id)
		switch {
		case err == nil:
			n++
		case errors.Is(err, rcq.ErrConflict) || errors.Is(err, rcq.ErrForbidden):
			if first == nil {
				first = err
			}
		default:
			return ref, n, err
		}
	}
	if n == 0 && first != nil {
		return ref, 0, &rcq.Error{Kind: rcq.KindOf(first), Code: rcq.CodeOf(first),
			Msg: fmt.Sprintf("job %s: no element could be changed (%s)", ref, rcq.MessageOf(first)), Err: first}
	}
	return ref, n, nil
}

// actionMessage is a JobAction's message for n rows of ref.
func actionMessage(ref rcq.JobRef, n int, one string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf("%s: %d jobs of %s", one, n, ref)
}

// jobAction is the answer of an action on a ref.
func jobAction(ref rcq.JobRef, n int, one string, st rcq.JobState) apitype.JobAction {
	return apitype.JobAction{Message: actionMessage(ref, n, one), JobID: int64(ref.JobID), Status: string(st)}
}

// arrayFields are the array fields of a job body: the array's id on every
// row of an array, and the element's index or, on the array's row standing
// for elements not yet started, their indices and the throttle.
func arrayFields(j *rcq.Job) (arrayID *int64, task *int, tasks string, throttle int) {
	a := j.Array
	if a == nil {
		return nil, nil, "", 0
	}
	id := int64(a.ID)
	if a.TaskID != nil {
		t := *a.TaskID
		return &id, &t, "", a.Throttle
	}
	return &id, nil, a.Pending.String(), a.Throttle
}
