// The workflow timeline: listen to the instance's trace stream (Server-Sent Events relayed by
// the dashboard) and redraw the table as each span starts and ends. Built with DOM calls and
// textContent only: nothing from the stream is ever parsed as HTML.
(function () {
  "use strict";
  var table = document.getElementById("timeline");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var state = document.getElementById("timeline-state");
  var total = document.getElementById("timeline-total");
  var spans = {}, order = [], trace = null;
  var SVG = "http://www.w3.org/2000/svg";

  function summary(info) {
    if (!info) { return ""; }
    if (info.method && info.path) { return (info.method + " " + info.path + " " + (info.status || "")).trim(); }
    return Object.keys(info).sort().filter(function (k) { return typeof info[k] !== "object"; })
      .map(function (k) { return k + "=" + info[k]; }).join(", ").slice(0, 200);
  }
  function depth(s) {
    var d = 0, p = s.parent;
    while (p && spans[p] && d < 8) { d += 1; p = spans[p].parent; }
    return d;
  }
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function draw() {
    var end = 0;
    order.forEach(function (id) { var s = spans[id]; end = Math.max(end, (s.offset_ms || 0) + (s.duration_ms || 0)); });
    var scale = end > 0 ? 1000 / end : 0;
    while (body.firstChild) { body.removeChild(body.firstChild); }
    order.slice().sort(function (a, b) { return spans[a].offset_ms - spans[b].offset_ms; }).forEach(function (id) {
      var s = spans[id], row = document.createElement("tr");
      row.className = "depth-" + depth(s) + (s.status === "error" ? " failed" : "");
      row.setAttribute("data-id", id);
      var step = cell(row, s.name); step.className = "step";
      var said = summary(s.info);
      if (said) { step.appendChild(document.createElement("br")); var small = document.createElement("small"); small.className = "muted"; small.textContent = said; step.appendChild(small); }
      cell(row, s.kind); cell(row, s.service || ""); cell(row, s.host || ""); cell(row, String(s.offset_ms));
      cell(row, s.duration_ms === null || s.duration_ms === undefined ? "running" : String(s.duration_ms));
      var barCell = cell(row, ""); barCell.className = "barcol";
      var svg = document.createElementNS(SVG, "svg"); svg.setAttribute("class", "bar"); svg.setAttribute("viewBox", "0 0 1000 10"); svg.setAttribute("preserveAspectRatio", "none");
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String((s.offset_ms || 0) * scale)); rect.setAttribute("y", "0"); rect.setAttribute("height", "10");
      rect.setAttribute("width", String(Math.max(2, (s.duration_ms || 0) * scale)));
      rect.setAttribute("class", "kind-" + s.kind + " status-" + s.status);
      svg.appendChild(rect); barCell.appendChild(svg);
      var result = cell(row, s.status === "error" ? "" : s.status);
      if (s.status === "error") { var e = document.createElement("span"); e.className = "error"; e.textContent = s.error; result.appendChild(e); }
      body.appendChild(row);
    });
    total.textContent = order.length ? Math.round(end * 10) / 10 + " ms in all." : "";
  }
  var source = new EventSource(table.getAttribute("data-stream"));
  source.addEventListener("span", function (event) {
    var s = JSON.parse(event.data);
    if (trace !== s.trace) { trace = s.trace; spans = {}; order = []; }
    if (!spans[s.id]) { order.push(s.id); }
    if (s.phase === "end" || !spans[s.id] || spans[s.id].status === "running") { spans[s.id] = s; }
    state.textContent = "live";
    draw();
  });
  source.addEventListener("end", function () { state.textContent = ""; source.close(); });
  source.onerror = function () { state.textContent = ""; source.close(); };
})();
