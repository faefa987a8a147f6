// rcq dashboard: live updates over Server-Sent Events, and job output
// followed as it is written. Pages work without it; it only refreshes them.
"use strict";
(function () {
  var live = document.getElementById("live");
  var banner = document.getElementById("banner");
  var FRAG = { "X-Rcq-Fragment": "live" };

  // refresh re-reads the page's live part; a change during a read is read
  // again after it, so a burst of events costs at most two reads.
  var busy = false, again = false;
  function refresh() {
    if (!live) return;
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { headers: FRAG, credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { location.reload(); return null; } // the session ended: to the login page
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && html !== undefined) {
        live.innerHTML = html;
        window.rcqSwappedAt = Date.now(); // read by the browser tests
        document.dispatchEvent(new Event("rcq:refreshed"));
      }
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }

  // The event stream: the browser reconnects by itself and sends
  // Last-Event-ID; after an error answer it does not, and the page opens a
  // new stream with the last id it saw.
  var lastID = "", es = null, retry = 1000, refused = 0;
  function connect() {
    var url = "/ui/events";
    var q = [];
    if (live && live.dataset.jobs) q.push("jobs=" + encodeURIComponent(live.dataset.jobs));
    if (lastID) q.push("last_event_id=" + encodeURIComponent(lastID));
    if (q.length) url += "?" + q.join("&");
    es = new EventSource(url);
    var opened = false;
    es.onopen = function () {
      if (banner) banner.hidden = true;
      document.body.dataset.stream = "open";
      retry = 1000;
      refused = 0;
      if (opened || lastID) refresh(); // back after a gap: catch up
      opened = true;
    };
    ["job", "position", "worker", "reset"].forEach(function (t) {
      es.addEventListener(t, function (e) {
        if (e.lastEventId) lastID = e.lastEventId;
        window.rcqEventAt = Date.now();
        refresh();
        if (t === "job") jobChanged(e);
      });
    });
    es.onerror = function () {
      if (banner) banner.hidden = false;
      document.body.dataset.stream = "down";
      if (es.readyState === EventSource.CLOSED) {
        // Refused twice with the last id (history pruned, another
        // database): start afresh, and re-read the page on opening.
        if (++refused >= 2) lastID = "";
        // Refused (session ended, rcqd restarting): check the session,
        // then try again later.
        fetch(location.href, { headers: FRAG, credentials: "same-origin" }).then(function (r) {
          if (r.status === 401) location.reload();
        }).catch(function () {});
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }
  if (live) connect();

  // Job output: followed while the job runs, from the start of the file.
  var out = document.getElementById("output");
  var follow = document.getElementById("follow");
  var following = false;
  function atEnd() {
    if (follow && follow.checked) out.scrollTop = out.scrollHeight;
  }
  function followOutput() {
    if (!out || following || !out.dataset.started || !window.ReadableStream) return;
    following = true;
    var dec = new TextDecoder();
    var first = true;
    fetch(out.dataset.src, { headers: { "X-Rcq-Fragment": "output" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok || !r.body) { following = false; return; }
      var rd = r.body.getReader();
      function pump() {
        return rd.read().then(function (x) {
          if (x.done) { following = false; return; }
          var text = dec.decode(x.value, { stream: true });
          if (first) { out.textContent = ""; first = false; }
          out.appendChild(document.createTextNode(text));
          atEnd();
          return pump();
        });
      }
      return pump();
    }).catch(function () { following = false; });
  }
  function jobChanged(e) {
    if (!out || out.dataset.started) return;
    try {
      var d = JSON.parse(e.data);
      if (d.started_at) {
        out.dataset.started = "1";
        var note = document.getElementById("output-note");
        if (note) note.hidden = true;
        followOutput();
      }
    } catch (err) {}
  }
  if (out) {
    if (out.dataset.live) followOutput();
    atEnd();
    var jump = document.getElementById("jump");
    if (jump) jump.addEventListener("click", function (ev) {
      ev.preventDefault();
      out.scrollTop = out.scrollHeight;
      if (follow) follow.checked = true;
    });
    out.addEventListener("scroll", function () {
      if (follow && out.scrollTop + out.clientHeight < out.scrollHeight - 4) follow.checked = false;
    });
  }
  document.addEventListener("rcq:refreshed", function () {
    var st = document.getElementById("job-state");
    var s = live && live.querySelector(".this .st");
    if (st && s) { st.textContent = s.textContent; st.className = s.className; }
  });
})();
