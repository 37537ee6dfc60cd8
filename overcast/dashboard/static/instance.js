// The instance page: poll the server's status while it changes, and reload once it settles
// so the actions and log below match it. No inline script: the CSP allows only this file.
(function () {
  "use strict";
  var box = document.getElementById("server");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var statusEl = document.getElementById("status");
  var taskEl = document.getElementById("task");
  var powerEl = document.getElementById("power");
  var busy = function (s) { return s.task_state || ["BUILD", "REBOOT", "HARD_REBOOT", "RESIZE", "MIGRATING", "REBUILD"].indexOf(s.status) >= 0; };
  var first = { status: statusEl.textContent, task_state: taskEl.textContent === "none" ? null : taskEl.textContent };
  // Just after an action the server may not have started on it: watch a few seconds anyway.
  var grace = window.location.search.indexOf("notice=") >= 0 ? 8 : 0;
  if (!busy(first) && !grace) { return; }
  var tick = function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        statusEl.textContent = s.status;
        statusEl.className = "status-" + s.status;
        taskEl.textContent = s.task_state || "none";
        powerEl.textContent = s.power_state;
        grace -= 1;
        if (busy(s)) { setTimeout(tick, 1000); return; }
        if (s.status !== first.status || busy(first)) { window.location.replace(window.location.pathname); return; }
        if (grace > 0) { setTimeout(tick, 1000); }
      });
  };
  setTimeout(tick, 1000);
})();
