/* Mercado Rural's service worker, served from /sw.js (scope: the whole site).

   - Keeps the static files (css, js, icons) and the offline page: served from the cache,
     their URLs carry a content fingerprint.
   - Keeps the pages a cooperative needs without a connection, as it last opened them: the
     listing form (product chooser and each product's form), its listings, its sales and its
     home. Network first; the kept copy only when the network fails. Nothing else is kept,
     no POST answer ever, and everything kept is dropped when the user logs out.
   - A listing or an answer sent while the network fails is kept as a draft (outbox.js) and
     sent when the connection returns (Background Sync, or the next page opened). */
"use strict";
var VERSION = "__VERSION__";
var PRECACHE = "__PRECACHE__";
importScripts("__OUTBOX__");

var STATIC_CACHE = "mr-static-" + VERSION;
var PAGES_CACHE = "mr-pages";
var OFFLINE_URL = "/sin-conexion";
var KEPT_PAGES = [/^\/inicio$/, /^\/ofertas$/, /^\/ofertas\/nueva$/, /^\/ventas$/, /^\/ventas\/\d+$/];
var DRAFTED_POSTS = [/^\/ofertas\/nueva$/, /^\/pedidos\/partes\/\d+\/(accept|decline|ready)$/];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(PRECACHE); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("mr-static-") === 0 && name !== STATIC_CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function matches(patterns, path) {
  return patterns.some(function (pattern) { return pattern.test(path); });
}

function offlinePage() {
  return caches.match(OFFLINE_URL, { ignoreSearch: true }).then(function (page) {
    return page || new Response("Sin conexión / Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  });
}

// A link that is up but carries nothing ("lie-fi") would leave the page blank for minutes:
// after this long the kept copy is shown, and the network's answer still refreshes it.
var PATIENCE_MS = 10000;

function networkFirst(event) {
  var request = event.request;
  var network = fetch(request).then(function (response) {
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      return caches.open(PAGES_CACHE).then(function (cache) { return cache.put(request, copy); })
        .then(function () { return response; });
    }
    return response;
  });
  event.waitUntil(network.catch(function () {}));
  var kept = caches.open(PAGES_CACHE).then(function (cache) { return cache.match(request); });
  return new Promise(function (resolve) {
    var done = false;
    function answer(response) { if (!done) { done = true; resolve(response); } }
    var timer = setTimeout(function () {
      kept.then(function (copy) { if (copy) { answer(copy); } });
    }, PATIENCE_MS);
    network.then(function (response) { clearTimeout(timer); answer(response); }).catch(function () {
      clearTimeout(timer);
      kept.then(function (copy) { answer(copy || offlinePage()); });
    });
  });
}

/* A form posted while the network fails: keep it as a draft and show the offline page, which
   lists it as waiting. Pages with JavaScript keep drafts themselves before this happens. */
function postOrDraft(request) {
  var copy = request.clone();
  return fetch(request).catch(function () {
    return copy.formData().then(function (form) {
      var url = new URL(request.url);
      return self.MercadoOutbox.save(url.pathname + url.search, form, "", null);
    }).then(function () {
      return self.registration.sync ? self.registration.sync.register("outbox").catch(function () {}) : null;
    }).then(function () { return Response.redirect(OFFLINE_URL + "?guardado=1", 303); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST") {
    if (url.pathname === "/salir") {
      event.waitUntil(caches.delete(PAGES_CACHE));
    } else if (request.mode === "navigate" && matches(DRAFTED_POSTS, url.pathname)) {
      event.respondWith(postOrDraft(request));
    }
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (kept) { return kept || fetch(request); }));
  } else if (request.mode === "navigate") {
    if (matches(KEPT_PAGES, url.pathname)) {
      event.respondWith(networkFirst(event));
    } else {
      event.respondWith(fetch(request).catch(offlinePage));
    }
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "outbox") {
    event.waitUntil(self.MercadoOutbox.lastUser().then(function (user) {
      return self.MercadoOutbox.flush(user || null);
    }).then(function (result) {
      // Still no network: fail the sync so the browser tries again later.
      if (result && result.last === "offline") { throw new Error("offline"); }
    }));
  }
});
