// A "select all" checkbox for the checkboxes named in its data-select-all attribute.
(function () {
  var all = document.querySelectorAll("[data-select-all]");
  Array.prototype.forEach.call(all, function (box) {
    var name = box.getAttribute("data-select-all");
    box.addEventListener("change", function () {
      var boxes = box.form.querySelectorAll("input[type=checkbox][name='" + name + "']");
      Array.prototype.forEach.call(boxes, function (b) { b.checked = box.checked; });
    });
  });
})();
