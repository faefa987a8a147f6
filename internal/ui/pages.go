package ui

// Page is one page of the dashboard: its route, its place in the
// navigation bar, and its handler.
type Page struct {
	// Pattern is a net/http pattern under /ui/: "GET /ui/queue",
	// "POST /ui/jobs/{id}/cancel".
	Pattern string
	// Nav is the navigation bar's link text ("" for none) and NavPath
	// where it goes; the link is marked current on NavPath and below it.
	Nav     string
	NavPath string
	// Admin shows the link to admins only. It hides a link, nothing more:
	// the API refuses others the admin routes (403), so the page does too.
	Admin bool
	// Public pages are served without a session (the login page). Every
	// other page sends a visitor without one to log in, and every POST
	// must carry the session's CSRF token (403 without).
	Public bool
	Handle func(c *Call) error
}

// pages is every page of the dashboard, in navigation order. To add a
// page: a file with its handler, a template templates/NAME.html defining
// "title"-free blocks "content" (and "live" if it updates live), and a row
// here.
var pages = []Page{
	{Pattern: "GET /ui/login", Public: true, Handle: loginGet},
	{Pattern: "POST /ui/login", Public: true, Handle: loginPost},
	{Pattern: "POST /ui/logout", Handle: logout},
	{Pattern: "GET /ui/events", Handle: events},

	{Pattern: "GET /ui/queue", Nav: "Queue", NavPath: "/ui/queue", Handle: queuePage},
	{Pattern: "GET /ui/jobs", Nav: "My jobs", NavPath: "/ui/jobs", Handle: myJobsPage},
	{Pattern: "GET /ui/jobs/{id}", Handle: jobPage},
	{Pattern: "GET /ui/jobs/{id}/output", Handle: jobOutput},
	{Pattern: "GET /ui/jobs/{id}/{action}", Handle: jobConfirm},
	{Pattern: "POST /ui/jobs/{id}/{action}", Handle: jobAction},

	{Pattern: "GET /ui/cluster", Nav: "Cluster", NavPath: "/ui/cluster", Handle: clusterPage},
	{Pattern: "GET /ui/share", Nav: "Fair share", NavPath: "/ui/share", Handle: sharePage},
	{Pattern: "GET /ui/admin", Nav: "Admin", NavPath: "/ui/admin", Admin: true, Handle: adminPage},
	{Pattern: "GET /ui/admin/change", Handle: adminChangeForm},
	{Pattern: "POST /ui/admin/change", Handle: adminChange},
	{Pattern: "GET /ui/admin/audit", Handle: auditPage},
}
