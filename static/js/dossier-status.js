// While a dossier is generated: polls dossiers:status (the card's data-poll URL), shows the phase (queued ->
// generating -> ready) and the time taken on the server's clock, ticking every second between polls; reloads the
// page to show the result once the job is done (ready or failed). Markup: templates/verification/_progress.html.
(function () {
  var card = document.querySelector("[data-poll]");
  if (!card) return;
  var url = card.getAttribute("data-poll");
  var badge = document.getElementById("vr-status");
  var message = document.getElementById("vr-progress-message");
  var elapsedEl = document.getElementById("vr-elapsed");
  var steps = {};
  ["queued", "generating", "ready"].forEach(function (name) {
    var li = card.querySelector('[data-step="' + name + '"]');
    if (li) steps[name] = { badge: li.querySelector(".badge"), note: li.querySelector("[data-step-note]") };
  });
  var last = null; // the latest answer, and when it came (performance.now())
  var lastAt = 0;
  var lastStatus = null;
  var tries = 0;

  function since(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + " min " + (s < 10 ? "0" : "") + s + " s";
  }

  function setStep(name, state, note) {
    var step = steps[name];
    if (!step) return;
    step.badge.className = "badge" + (state ? " badge-" + state : "");
    if (note !== undefined && step.note) step.note.textContent = note;
  }

  function render() {
    if (!last) return;
    var ticking = last.in_progress ? (performance.now() - lastAt) / 1000 : 0;
    if (elapsedEl && last.elapsed_seconds !== null) elapsedEl.textContent = since(last.elapsed_seconds + ticking);
    var retry = last.attempts > 1 ? " (attempt " + last.attempts + ")" : "";
    if (last.status === "queued") {
      setStep("queued", "queued", "waiting for the worker" + retry);
      setStep("generating", "", "");
    } else {
      var waited = last.queued_seconds !== null ? "waited " + since(last.queued_seconds) : "picked up by the worker";
      setStep("queued", "ready", waited);
    }
    if (last.status === "generating") {
      setStep("generating", "generating", since(last.generating_seconds + ticking) + " so far" + retry);
    } else if (!last.in_progress && last.status !== "failed") {
      var took = last.render_seconds !== null ? "rendered in " + since(last.render_seconds) : "done";
      setStep("generating", "ready", took);
      setStep("ready", "ready", "loading the dossier…");
    }
  }

  function announce(data) {
    if (data.status === lastStatus) return;
    lastStatus = data.status;
    if (badge) {
      badge.textContent = data.status_display;
      badge.className = "badge badge-" + data.status;
    }
    if (!message) return;
    if (data.status === "queued") message.textContent = "The dossier is queued: waiting for the background worker.";
    else if (data.status === "generating") message.textContent = "The PDF is being generated.";
    else if (data.status === "failed") message.textContent = "The dossier could not be generated.";
    else message.textContent = "The dossier is ready.";
  }

  function poll() {
    tries += 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        last = data;
        lastAt = performance.now();
        announce(data);
        render();
        if (!data.in_progress) {
          setTimeout(function () { window.location.reload(); }, 400);
          return;
        }
        setTimeout(poll, Math.min(1000 + tries * 100, 3000));
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  setInterval(render, 1000);
  setTimeout(poll, 300);
})();
