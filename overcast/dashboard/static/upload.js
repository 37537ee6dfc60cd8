// Uploads with progress: a form with data-csrf and a file input creates its record with a
// POST (JSON answer), then streams the file with a PUT to the record's data URL, showing
// progress. Without script the form posts the file whole. Used by the image and object pages.
(function () {
  "use strict";
  var form = document.querySelector("form[data-csrf]");
  if (!form) { return; }
  var fileInput = form.querySelector("input[type=file]");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var error = document.getElementById("form-error");
  var csrf = form.getAttribute("data-csrf");
  function fail(message) { error.textContent = message; error.hidden = false; bar.hidden = true; }
  function send(url, file, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); status.textContent = bar.value + "%"; }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: xhr.statusText }; }
      if (xhr.status >= 400) { fail(body.error || xhr.statusText); return; }
      done(body);
    };
    xhr.onerror = function () { fail("The upload failed."); };
    xhr.send(file);
  }
  form.addEventListener("submit", function (event) {
    var file = fileInput.files[0];
    if (!file) { return; }  // nothing to stream: the plain form post does it
    event.preventDefault();
    error.hidden = true;
    var fields = new URLSearchParams(new FormData(form));
    fields.delete("file");
    if (form.hasAttribute("data-direct")) {
      bar.hidden = false;
      var target = form.getAttribute("data-direct") + encodeURIComponent((fields.get("prefix") || "") + file.name);
      send(target, file, function () { window.location.reload(); });
      return;
    }
    fetch(form.action, { method: "POST", body: fields, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (!res.ok) { fail(res.body.error); return; }
        bar.hidden = false;
        var base = form.getAttribute("data-base");
        send(base + "/project/images/" + res.body.id + "/data", file, function () {
          window.location.href = base + "/project/images/" + res.body.id + "?notice=" + encodeURIComponent("Image uploaded.");
        });
      });
  });
})();
