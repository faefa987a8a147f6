// Package uitest holds the dashboard's browser tests: a real rcqd (built
// from cmd/rcqd, on its private PostgreSQL) driven through headless
// Chromium with github.com/chromedp/chromedp. They run only with RCQ_UI=1
// (make test-ui, which installs Chromium with scripts/ensure-chromium.sh);
// RCQ_SCREENSHOTS=DIR also writes a PNG of every page at desktop and phone
// widths (make screenshots). The package has no code outside its tests.
package uitest
