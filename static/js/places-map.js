// Map of the places listed in a staff table (collection points and delivery sites).
// Progressive enhancement: the server renders the table and a hidden map container,
//   <div id="places-map" class="map" data-tiles="..." data-attribution="..." hidden></div>
//   <table data-map="places-map"> ... <tr data-lat=".." data-lon=".." data-kind=".." data-label="..">
// and this script, when Leaflet (static/vendor/leaflet/leaflet.js) has loaded, unhides the container and draws
// one circle per row. Without JavaScript, Leaflet or rows with coordinates nothing changes: the table is the page.
// Tiles are optional: with data-tiles empty the points are drawn on a plain background with a scale.
// Labels are only ever set as text (DOM text nodes), never as HTML.
// Optional: data-legend-collection_point / data-legend-delivery_site on the container give translated legend text.
(function () {
  "use strict";

  var KINDS = {
    collection_point: { color: "#1b6b3a", es: "Puntos de acopio", en: "Collection points" },
    delivery_site: { color: "#1f4e9c", es: "Sitios de entrega", en: "Delivery sites" }
  };
  var OTHER = { color: "#5f6368", es: "Otros", en: "Other" };
  var PLAIN_BACKGROUND = "#eef2ec";

  function language() {
    var lang = (document.documentElement.getAttribute("lang") || "es").toLowerCase();
    return lang.indexOf("en") === 0 ? "en" : "es";
  }

  // A coordinate written as a plain decimal number within range, or null.
  function coordinate(text, limit) {
    if (text === null) { return null; }
    text = String(text).trim();
    if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(text)) { return null; }
    var value = parseFloat(text);
    return isFinite(value) && Math.abs(value) <= limit ? value : null;
  }

  function readPoints(table) {
    var rows = table.querySelectorAll("tr[data-lat][data-lon]");
    var points = [];
    for (var i = 0; i < rows.length; i++) {
      var lat = coordinate(rows[i].getAttribute("data-lat"), 90);
      var lon = coordinate(rows[i].getAttribute("data-lon"), 180);
      if (lat === null || lon === null) { continue; }
      var kind = rows[i].getAttribute("data-kind") || "";
      points.push({
        lat: lat,
        lon: lon,
        kind: Object.prototype.hasOwnProperty.call(KINDS, kind) ? kind : "",
        label: rows[i].getAttribute("data-label") || ""
      });
    }
    return points;
  }

  function styleOf(kind) {
    return kind ? KINDS[kind] : OTHER;
  }

  function textElement(tag, className, text) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    element.appendChild(document.createTextNode(text));
    return element;
  }

  function legendControl(L, container, points) {
    var lang = language();
    var present = [];
    for (var i = 0; i < points.length; i++) {
      if (present.indexOf(points[i].kind) < 0) { present.push(points[i].kind); }
    }
    var control = L.control({ position: "topright" });
    control.onAdd = function () {
      var box = document.createElement("div");
      box.className = "map-legend";
      Object.keys(KINDS).concat([""]).forEach(function (kind) {
        if (present.indexOf(kind) < 0) { return; }
        var style = styleOf(kind);
        var item = document.createElement("div");
        item.className = "map-legend-item";
        var swatch = document.createElement("span");
        swatch.className = "map-legend-swatch";
        swatch.style.backgroundColor = style.color;
        swatch.setAttribute("aria-hidden", "true");
        item.appendChild(swatch);
        var text = (kind && container.getAttribute("data-legend-" + kind)) || style[lang];
        item.appendChild(document.createTextNode(text));
        box.appendChild(item);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  // Leaflet puts attribution strings into the page as HTML; ours is shown as text.
  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function enhance(L, table) {
    var container = document.getElementById(table.getAttribute("data-map") || "");
    if (!container || container.getAttribute("data-enhanced")) { return; }
    var points = readPoints(table);
    if (!points.length) { return; }

    var map = null;
    try {
      container.hidden = false;  // Leaflet needs the container's size
      map = L.map(container, { scrollWheelZoom: false, zoomSnap: 0.5 });
      var tiles = (container.getAttribute("data-tiles") || "").trim();
      if (tiles) {
        L.tileLayer(tiles, {
          maxZoom: 19,
          attribution: escapeHtml(container.getAttribute("data-attribution") || "")
        }).addTo(map);
      } else {
        container.classList.add("map-plain");
        container.style.backgroundColor = PLAIN_BACKGROUND;
      }
      L.control.scale({ imperial: false }).addTo(map);

      var latlngs = [];
      points.forEach(function (point) {
        var style = styleOf(point.kind);
        var marker = L.circleMarker([point.lat, point.lon], {
          radius: 7,
          color: "#ffffff",
          weight: 2,
          fillColor: style.color,
          fillOpacity: 0.9
        });
        if (point.label) {
          marker.bindTooltip(textElement("span", "map-label", point.label), { direction: "auto", offset: [8, 0] });
        }
        marker.addTo(map);
        latlngs.push([point.lat, point.lon]);
      });

      map.fitBounds(L.latLngBounds(latlngs), { padding: [24, 24], maxZoom: 13, animate: false });
      legendControl(L, container, points).addTo(map);
      container.setAttribute("data-enhanced", "1");
    } catch (error) {
      // The table still lists every place: undo what was done and stay quiet.
      try { if (map) { map.remove(); } } catch (ignored) { /* nothing more to undo */ }
      container.classList.remove("map-plain");
      container.style.backgroundColor = "";
      container.hidden = true;
    }
  }

  function start() {
    try {
      var L = window.L;
      if (!L || typeof L.map !== "function" || !document.querySelectorAll) { return; }
      var tables = document.querySelectorAll("table[data-map]");
      for (var i = 0; i < tables.length; i++) { enhance(L, tables[i]); }
    } catch (error) { /* leave the page as the server rendered it */ }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
