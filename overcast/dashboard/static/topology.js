// The topology page: fetch the drawing again every 5 seconds and swap it in when it changed
// (parsed as SVG, never as HTML), so new instances, routers and links appear by themselves.
(function () {
  "use strict";
  var box = document.getElementById("topology");
  if (!box) { return; }
  var last = "";
  function refresh() {
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok && (r.headers.get("content-type") || "").indexOf("svg") >= 0 ? r.text() : null; })
      .then(function (text) {
        if (text && text !== last) {
          var doc = new DOMParser().parseFromString(text, "image/svg+xml");
          var fresh = doc.documentElement;
          if (fresh && fresh.nodeName === "svg") {
            var old = document.getElementById("topology-drawing");
            old.parentNode.replaceChild(document.importNode(fresh, true), old);
          }
          last = text;
        }
        setTimeout(refresh, 5000);
      });
  }
  setTimeout(refresh, 5000);
})();
