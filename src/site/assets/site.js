// The web catalog's one script: the package search (also driven by the address, #q=NAME)
// and the copy buttons of the pull commands. Works from file:// and any static host.
(function () {
  "use strict";

  function queryFromHash() {
    var m = /(?:^#|&)q=([^&]*)/.exec(window.location.hash);
    if (!m) return "";
    try { return decodeURIComponent(m[1].replace(/\+/g, " ")); } catch (e) { return ""; }
  }

  function setupSearch() {
    var input = document.getElementById("pkg-q");
    var table = document.getElementById("pkg-table");
    var count = document.getElementById("pkg-count");
    if (!input || !table || !count) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    function apply(q) {
      var needle = q.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (r) {
        var hit = needle === "" || (r.getAttribute("data-pkg") || "").indexOf(needle) !== -1;
        r.hidden = !hit;
        if (hit) shown += 1;
      });
      count.textContent = needle === ""
        ? rows.length + " packages"
        : shown + " of " + rows.length + " packages match \u201c" + q.trim() + "\u201d";
    }
    function fromHash() {
      var q = queryFromHash();
      if (input.value !== q) input.value = q;
      apply(q);
    }
    input.addEventListener("input", function () {
      var q = input.value;
      apply(q);
      var hash = q.trim() === "" ? "" : "#q=" + encodeURIComponent(q.trim());
      try {
        window.history.replaceState(null, "", hash === "" ? window.location.pathname + window.location.search : hash);
      } catch (e) {
        window.location.hash = hash;
      }
    });
    window.addEventListener("hashchange", fromHash);
    fromHash();
  }

  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(text)); });
    } else {
      done(fallback(text));
    }
  }

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-10000px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function setupCopy() {
    var status = document.getElementById("copy-status");
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        var code = document.getElementById(b.getAttribute("data-copy"));
        if (!code) return;
        copyText(code.textContent, function (ok) {
          if (status) status.textContent = ok ? "Copied: " + code.textContent : "Select the command and copy it";
        });
      });
    });
  }

  function start() { setupSearch(); setupCopy(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
