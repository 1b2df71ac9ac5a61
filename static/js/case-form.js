// Keyboard-first case logging: type to narrow the topic chips, Enter ticks the first one shown.
(function () {
  var filter = document.getElementById("topic-filter");
  var reference = document.getElementById("id_reference");
  if (reference) reference.setAttribute("list", "recent-references");
  if (!filter) return;
  var chips = Array.prototype.slice.call(document.querySelectorAll(".field-checkboxselectmultiple"))
    .filter(function (f) { return f.querySelector("input[name=categories]"); })
    .map(function (f) { return Array.prototype.slice.call(f.querySelectorAll("label.choice")); })[0] || [];
  function visible() { return chips.filter(function (c) { return !c.hidden; }); }
  filter.addEventListener("input", function () {
    var q = filter.value.trim().toLowerCase();
    chips.forEach(function (c) { c.hidden = q !== "" && c.textContent.toLowerCase().indexOf(q) === -1; });
  });
  filter.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    event.preventDefault(); // Enter here picks a topic; it does not submit the form.
    var first = visible()[0];
    if (!first) return;
    var box = first.querySelector("input");
    box.checked = !box.checked;
    filter.value = "";
    chips.forEach(function (c) { c.hidden = false; });
  });
})();
