// Polls the dossier status while it is generated, then reloads the page to show the result.
(function () {
  var card = document.querySelector("[data-poll]");
  if (!card) return;
  var url = card.getAttribute("data-poll");
  var tries = 0;
  function poll() {
    tries += 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (!data.in_progress) { window.location.reload(); return; }
        document.getElementById("vr-status").textContent = data.status_display;
        setTimeout(poll, Math.min(1000 + tries * 250, 5000));
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
