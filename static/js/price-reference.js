// The listing form's reference price, per the unit being typed, and the typed price per kg
// beside it, updated while typing. Progressive: without it the server shows the same box.
(function () {
  "use strict";
  var box = document.querySelector("[data-price-reference]");
  if (!box) return;
  var form = box.closest("form");
  var refKg = parseFloat(box.getAttribute("data-ref-kg"));
  var weights = JSON.parse(box.getAttribute("data-unit-weights") || "{}");
  var names = JSON.parse(box.getAttribute("data-unit-names") || "{}");
  var sample = box.getAttribute("data-money") || "$ 1.234.567";
  var english = sample.indexOf("COP") === 0;
  var numbers = new Intl.NumberFormat(english ? "en-US" : "es-CO", {maximumFractionDigits: 0});
  var unitSpan = box.querySelector("[data-ref-unit]");
  var check = box.querySelector("[data-price-check]");
  var unit = form.querySelector("[name=unit]");
  var unitKg = form.querySelector("[name=unit_kg]");
  var price = form.querySelector("[name=price]");

  function money(value) {
    return (english ? "COP " : "$ ") + numbers.format(Math.round(value));
  }
  function text(name, values) {
    var out = box.getAttribute(name) || "";
    Object.keys(values).forEach(function (key) { out = out.replace("{" + key + "}", values[key]); });
    return out;
  }
  // "13.500", "13,500" and "13500" are the same pesos; a decimal comma or point is kept.
  function parse(raw) {
    var value = (raw || "").replace(/[$\s]/g, "");
    if (/^\d{1,3}([.,]\d{3})+$/.test(value)) value = value.replace(/[.,]/g, "");
    else value = value.replace(",", ".");
    var number = parseFloat(value);
    return isFinite(number) && number > 0 ? number : null;
  }
  function weight() {
    var code = unit ? unit.value : "kg";
    if (weights[code]) return parseFloat(weights[code]);
    return unitKg ? parse(unitKg.value) : null;
  }
  function update() {
    var code = unit ? unit.value : "kg";
    var kg = weight();
    if (unitSpan) {
      unitSpan.textContent = kg && code !== "kg"
        ? " · " + text("data-text-unit", {price: money(refKg * kg), unit: names[code] || code}) : "";
    }
    if (!check) return;
    var typed = price ? parse(price.value) : null;
    if (!typed || !kg) { check.textContent = ""; return; }
    var perKg = typed / kg;
    var gap = (perKg - refKg) / refKg;
    var pct = numbers.format(Math.round(Math.abs(gap) * 100)) + " %";
    var words = text(gap < 0 ? "data-text-below" : "data-text-above", {pct: pct});
    var line = text("data-text-check", {per_kg: money(perKg), gap: words});
    if (Math.abs(gap) > 0.4) line += " " + box.getAttribute("data-text-far");
    check.textContent = line;
  }
  [unit, unitKg, price].forEach(function (input) {
    if (input) { input.addEventListener("input", update); input.addEventListener("change", update); }
  });
  update();
})();
