// The public check page: the visitor drops (or chooses) a PDF; its SHA-256 is computed here, in the browser, and
// compared with the genuine dossier's. Nothing is uploaded.
(function () {
  "use strict";
  var box = document.getElementById("pdf-check");
  if (!box) return;
  var expected = box.getAttribute("data-sha256");
  var input = document.getElementById("pdf-file");
  var result = document.getElementById("pdf-check-result");

  function show(kind, text) {
    result.className = "message " + (kind === "ok" ? "message-success" : kind === "bad" ? "message-error" : "");
    result.textContent = text;
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function check(file) {
    if (!file) return;
    if (!(window.crypto && window.crypto.subtle)) {
      show("", "This browser cannot compute the hash on this page; compare the SHA-256 above with sha256sum instead.");
      return;
    }
    show("", "Checking " + file.name + " …");
    file.arrayBuffer().then(function (data) {
      return window.crypto.subtle.digest("SHA-256", data);
    }).then(function (digest) {
      var actual = hex(digest);
      if (actual === expected) {
        show("ok", "Genuine: " + file.name + " is exactly the dossier issued under this code (SHA-256 " + actual + ").");
      } else {
        show("bad", "Does not match: " + file.name + " is not the dossier issued under this code (its SHA-256 is " + actual + ").");
      }
    }).catch(function () {
      show("bad", "The file could not be read.");
    });
  }

  input.addEventListener("change", function () { check(input.files[0]); });
  box.addEventListener("dragover", function (event) { event.preventDefault(); box.classList.add("dragging"); });
  box.addEventListener("dragleave", function () { box.classList.remove("dragging"); });
  box.addEventListener("drop", function (event) {
    event.preventDefault();
    box.classList.remove("dragging");
    check(event.dataTransfer.files[0]);
  });
})();
