// The launch form: show only the chosen source's fields, the quota the launch would use, and
// the equal `openstack server create` command and REST request, as the form changes; create
// a key pair inline (its private key is downloaded once, never kept by the dashboard).
(function () {
  "use strict";
  var form = document.getElementById("launch");
  if (!form) { return; }
  var data = JSON.parse(document.getElementById("launch-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var value = function (name) { var el = form.elements[name]; return el ? el.value.trim() : ""; };
  var checked = function (name) {
    return Array.prototype.filter.call(form.querySelectorAll("input[name='" + name + "']"), function (el) { return el.checked; })
      .map(function (el) { return el.value; });
  };
  var source = function () { var s = checked("source"); return s.length ? s[0] : "image"; };
  var quote = function (s) { return /^[A-Za-z0-9._\/:=-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'"; };

  function body() {
    var src = source(), id = value("source_id_" + src), server = { name: value("name"), flavorRef: value("flavor") };
    if (src === "image") { server.imageRef = id; } else {
      var m = { boot_index: 0, uuid: id, source_type: src === "image_volume" ? "image" : src, destination_type: "volume", delete_on_termination: src === "image_volume" };
      if (value("volume_size")) { m.volume_size = parseInt(value("volume_size"), 10); }
      server.block_device_mapping_v2 = [m];
    }
    var nets = checked("networks");
    server.networks = nets.length ? nets.map(function (n) { return { uuid: n }; }) : "none";
    var groups = checked("security_groups");
    if (groups.length) { server.security_groups = groups.map(function (g) { return { name: g }; }); }
    if (value("key_name")) { server.key_name = value("key_name"); }
    if (value("user_data")) { server.user_data = "<base64 of the user data>"; }
    var count = parseInt(value("count") || "1", 10);
    if (count > 1) { server.min_count = count; server.max_count = count; }
    return { server: server };
  }

  function cli() {
    var src = source(), id = value("source_id_" + src), args = ["openstack server create"];
    if (value("flavor")) { args.push("--flavor " + quote(value("flavor"))); }
    if (src === "image") { args.push("--image " + quote(id)); }
    if (src === "image_volume") { args.push("--image " + quote(id) + " --boot-from-volume " + (value("volume_size") || "SIZE")); }
    if (src === "volume") { args.push("--volume " + quote(id)); }
    if (src === "snapshot") { args.push("--snapshot " + quote(id)); }
    var nets = checked("networks");
    if (nets.length) { nets.forEach(function (n) { args.push("--network " + quote(n)); }); } else { args.push("--nic none"); }
    checked("security_groups").forEach(function (g) { args.push("--security-group " + quote(g)); });
    if (value("key_name")) { args.push("--key-name " + quote(value("key_name"))); }
    if (value("user_data")) { args.push("--user-data user-data.txt"); }
    var count = parseInt(value("count") || "1", 10);
    if (count > 1) { args.push("--min " + count + " --max " + count); }
    args.push(quote(value("name") || "NAME"));
    return args.join(" \\\n    ");
  }

  function update() {
    var src = source();
    Array.prototype.forEach.call(form.querySelectorAll("[data-source]"), function (el) {
      el.hidden = el.getAttribute("data-source").split(" ").indexOf(src) < 0;
    });
    var flavor = data.flavors[value("flavor")] || { vcpus: 0, ram: 0 };
    var count = Math.max(1, parseInt(value("count") || "1", 10) || 1);
    var use = { instances: count, cores: count * flavor.vcpus, ram: count * flavor.ram };
    var over = false;
    Object.keys(use).forEach(function (k) {
      $("use-" + k).textContent = use[k];
      if (data.left[k] >= 0 && use[k] > data.left[k]) { over = true; }
    });
    $("quota-warning").hidden = !over;
    $("cli").textContent = cli();
    $("rest").textContent = "POST " + data.endpoint + "/servers\nOpenStack-API-Version: compute 2.96\n\n" + JSON.stringify(body(), null, 2);
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();

  var create = $("new-key-create");
  create.addEventListener("click", function () {
    var box = $("new-key"), name = $("new-key-name").value.trim(), status = $("new-key-status");
    var payload = new URLSearchParams();
    payload.set("name", name);
    fetch(box.getAttribute("data-url"), {
      method: "POST", credentials: "same-origin", body: payload,
      headers: { "X-CSRF-Token": box.getAttribute("data-csrf"), Accept: "application/json" }
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = res.body.error; status.className = "field-error"; return; }
        var select = $("key_name"), option = document.createElement("option");
        option.textContent = res.body.name; select.appendChild(option); select.value = res.body.name;
        var link = document.createElement("a");
        link.href = URL.createObjectURL(new Blob([res.body.private_key], { type: "application/x-pem-file" }));
        link.download = res.body.name + ".pem"; link.textContent = "Download " + res.body.name + ".pem again";
        status.textContent = "Created. "; status.className = ""; status.appendChild(link); link.click();
        update();
      });
  });
})();
