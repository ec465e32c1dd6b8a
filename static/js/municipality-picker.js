// Progressive enhancement for municipality fields: suggestions while typing.
// Without JavaScript the server resolves what was typed and lists matches to choose from.
(function () {
  "use strict";
  var inputs = document.querySelectorAll("input[data-municipality-picker]");
  Array.prototype.forEach.call(inputs, function (input, index) {
    var list = document.createElement("datalist");
    list.id = "municipality-options-" + index;
    input.setAttribute("list", list.id);
    input.parentNode.appendChild(list);
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (q.length < 2 || q === last || /\(\d{5}\)$/.test(q)) { return; }
      clearTimeout(timer);
      timer = setTimeout(function () {
        last = q;
        fetch("/api/v1/municipalities?page_size=10&q=" + encodeURIComponent(q), { credentials: "omit" })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (data) {
            list.textContent = "";
            data.items.forEach(function (m) {
              var option = document.createElement("option");
              option.value = m.label + " (" + m.code + ")";
              list.appendChild(option);
            });
          })
          .catch(function () { /* offline: the server resolves the typed name */ });
      }, 250);
    });
  });
})();
