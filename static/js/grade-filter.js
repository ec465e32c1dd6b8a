// The grade select lists only the grades of the product chosen, and is disabled with a hint
// until a product is chosen. The server does the same when the page loads; this keeps it
// right while the product changes, without a round trip.
(function () {
  "use strict";
  var target = document.querySelector("[data-grade-target]");
  var source = document.querySelector("[data-grade-source]");
  if (!target || !source) return;
  var grades = JSON.parse(target.getAttribute("data-grades") || "{}");
  var anyLabel = target.getAttribute("data-any");
  var hint = document.querySelector("[data-grade-hint]");
  function update() {
    var list = grades[source.value] || [];
    var keep = target.value;
    while (target.options.length) target.remove(0);
    if (anyLabel !== null) target.add(new Option(anyLabel, target.getAttribute("data-any-value") || ""));
    list.forEach(function (grade) {
      target.add(new Option(grade[1], String(grade[0]), false, String(grade[0]) === keep));
    });
    target.disabled = list.length === 0;
    if (hint) hint.hidden = list.length > 0;
  }
  source.addEventListener("change", update);
})();
