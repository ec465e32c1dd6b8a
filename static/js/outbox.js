/* Drafts kept on the phone until they can be sent: a listing or an answer to an order made
   without a connection. Shared by the pages (offline.js) and the service worker (sw.js).

   A draft is {id, user, url, label, fields: [[name, value]...], status, created}, where a
   value is a string or a Blob (a photo). It carries its form's idempotency_key, so the server
   acts on it once however many times it arrives. Before posting, the server is asked whether
   that key was already used, and a fresh CSRF token replaces the one the page had. */
(function (scope) {
  "use strict";
  var DB = "mercado-rural", STORE = "drafts", META = "meta";
  var channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("mercado-outbox") : null;

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "id" });
        request.result.createObjectStore(META);
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode), result;
        Promise.resolve(work(tx.objectStore(store))).then(function (value) { result = value; });
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function asPromise(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function changed() { if (channel) { channel.postMessage("changed"); } }

  function all() { return run(STORE, "readonly", function (s) { return asPromise(s.getAll()); }); }

  function put(draft) {
    return run(STORE, "readwrite", function (s) { s.put(draft); }).then(function () { changed(); return draft; });
  }

  function remove(id) {
    return run(STORE, "readwrite", function (s) { s.delete(id); }).then(changed);
  }

  function setUser(user) {
    return run(META, "readwrite", function (s) { s.put(user, "user"); });
  }

  function lastUser() { return run(META, "readonly", function (s) { return asPromise(s.get("user")); }); }

  function uuid() {
    if (scope.crypto && scope.crypto.randomUUID) { return scope.crypto.randomUUID(); }
    var b = scope.crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) { h.push((b[i] + 256).toString(16).slice(1)); }
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
      h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function keyOf(draft) {
    for (var i = 0; i < draft.fields.length; i++) {
      if (draft.fields[i][0] === "idempotency_key") { return draft.fields[i][1]; }
    }
    return null;
  }

  /* A draft from a form's entries (FormData). The key the form carries is kept. */
  function save(url, formData, label, user) {
    var fields = [];
    formData.forEach(function (value, name) {
      if (typeof value !== "string" && !value.size) { return; }  // an empty file input
      fields.push([name, value]);
    });
    var draft = { id: uuid(), user: user || null, url: url, label: label || "", fields: fields,
                  status: "pending", created: Date.now() };
    if (!keyOf(draft)) { draft.fields.push(["idempotency_key", uuid()]); }
    return (user ? Promise.resolve(user) : lastUser()).then(function (who) {
      draft.user = who || null;
      return put(draft);
    });
  }

  function ask(key) {
    return fetch("/csrf" + (key ? "?clave=" + encodeURIComponent(key) : ""),
                 { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { return { login: true }; }
        if (!response.ok) { throw new Error("csrf " + response.status); }
        return response.json().then(function (state) {
          if (state.login_required) { state.login = true; }
          return state;
        });
      });
  }

  function post(draft, token) {
    var body = new FormData();
    draft.fields.forEach(function (pair) {
      var value = pair[0] === "csrf_token" ? token : pair[1];
      if (typeof value === "string") { body.append(pair[0], value); }
      else { body.append(pair[0], value, value.name || "foto.jpg"); }
    });
    if (!draft.fields.some(function (pair) { return pair[0] === "csrf_token"; })) { body.append("csrf_token", token); }
    return fetch(draft.url, { method: "POST", body: body, credentials: "same-origin" });
  }

  function sendOne(draft, user) {
    var key = keyOf(draft);
    return ask(key).then(function (state) {
      if (state.login) { draft.status = "login"; return put(draft).then(function () { return "login"; }); }
      if (draft.user && state.user_id !== draft.user) { return "other-user"; }
      if (state.done) { return remove(draft.id).then(function () { return "sent"; }); }
      return post(draft, state.csrf_token).then(function (response) {
        return response.text().then(function (html) {
          return ask(key).then(function (after) {
            if (after.login) { draft.status = "login"; return put(draft).then(function () { return "login"; }); }
            if (after.done) { return remove(draft.id).then(function () { return "sent"; }); }
            draft.status = response.status === 422 ? "review" : "failed";
            draft.answer = response.status === 422 ? html : null;
            draft.answerUrl = response.url;
            return put(draft).then(function () { return draft.status; });
          });
        });
      });
    }).catch(function () { return "offline"; });
  }

  function flushNow(user) {
    return all().then(function (drafts) {
      var sent = 0, chain = Promise.resolve("start");
      drafts.sort(function (a, b) { return a.created - b.created; });
      drafts.forEach(function (draft) {
        if (draft.status !== "pending" && draft.status !== "login") { return; }
        if (user && draft.user && draft.user !== user) { return; }
        chain = chain.then(function (previous) {
          if (previous === "offline" || previous === "login") { return previous; }
          return sendOne(draft, user).then(function (outcome) {
            if (outcome === "sent") {
              sent += 1;
              // Pages other than the sender's (or the service worker's sync) say it was sent.
              if (channel) { channel.postMessage({ sent: 1 }); }
            }
            return outcome;
          });
        });
      });
      return chain.then(function (last) { return { sent: sent, last: last }; });
    });
  }

  /* Send what is waiting, one sender at a time on this phone (pages and service worker). */
  function flush(user) {
    if (scope.navigator && scope.navigator.locks) {
      return scope.navigator.locks.request("mercado-outbox", function () { return flushNow(user); });
    }
    return flushNow(user);
  }

  scope.MercadoOutbox = { all: all, put: put, remove: remove, save: save, flush: flush, setUser: setUser,
                          lastUser: lastUser, uuid: uuid, keyOf: keyOf, channel: channel };
})(self);
