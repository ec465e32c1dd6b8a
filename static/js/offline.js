/* Progressive: installs the service worker, keeps a listing or an answer to an order made
   without a connection on the phone (outbox.js), lists what is waiting ("pendiente de
   enviar") and sends it when the connection returns. Without JavaScript, forms post as usual. */
(function () {
  "use strict";
  var script = document.currentScript, text = script ? script.dataset : {};
  var user = text.user ? Number(text.user) : null;
  var outbox = window.MercadoOutbox;
  // The forms whose sending can wait: a new listing and a cooperative's answer to an order.
  var DRAFTED = [/^\/ofertas\/nueva$/, /^\/pedidos\/partes\/\d+\/(accept|decline|ready)$/];
  if (!outbox || !window.indexedDB || !window.Promise) { return; }

  // After the page has loaded, so keeping the static files never competes with the page.
  function install() { navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {}); }
  if ("serviceWorker" in navigator) {
    if (document.readyState === "complete") { install(); } else { window.addEventListener("load", install); }
  }
  if (user) { outbox.setUser(user).catch(function () {}); }

  // A page the service worker kept may be shown again offline: give each form a new key so
  // two drafts made from it stay two. (The server never saw this key: it is claimed only
  // when the work is done.)
  function freshKeys(root) {
    Array.prototype.forEach.call(root.querySelectorAll("input[name=idempotency_key]"), function (input) {
      input.value = outbox.uuid();
    });
  }

  // Read as attributes: a field named "action" or "method" would hide the form's properties.
  function target(form) { return new URL(form.getAttribute("action") || location.href, location.href); }

  function drafted(form) {
    var url = target(form);
    return url.origin === location.origin && (form.getAttribute("method") || "").toLowerCase() === "post" &&
      DRAFTED.some(function (pattern) { return pattern.test(url.pathname); }) ? url : null;
  }

  function labelFor(form, submitter) {
    var heading = document.querySelector("main h1");
    var title = heading ? heading.textContent.trim().replace(/\s+/g, " ") : "";
    if (/\/ofertas\/nueva/.test(target(form).pathname)) {
      var parts = [title], quantity = form.elements.quantity, unit = form.elements.unit, price = form.elements.price;
      if (quantity && quantity.value) {
        parts.push(quantity.value + (unit && unit.selectedIndex >= 0 ? " " + unit.options[unit.selectedIndex].text : ""));
      }
      if (price && price.value) { parts.push("$ " + price.value); }
      return parts.filter(Boolean).join(" · ");
    }
    var action = submitter ? submitter.textContent.trim() : "";
    return [action, title].filter(Boolean).join(" · ");
  }

  function fallbackLabel(draft) {
    return draft.label || (/\/ofertas\/nueva/.test(draft.url) ? text.newListing : text.answer) || draft.url;
  }

  var box, message = "";

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content) { node.textContent = content; }
    return node;
  }

  function statusText(draft) {
    return { pending: text.pending, login: text.login, review: text.review, failed: text.failed }[draft.status] || "";
  }

  function render() {
    return outbox.all().then(function (drafts) {
      var mine = drafts.filter(function (d) { return !user || !d.user || d.user === user; });
      var main = document.getElementById("main") || document.body;
      if (!box) {
        box = element("section", "outbox card");
        box.setAttribute("aria-live", "polite");
        box.setAttribute("data-outbox", "");
        var flashes = main.querySelectorAll(":scope > .flash");
        main.insertBefore(box, flashes.length ? flashes[flashes.length - 1].nextSibling : main.firstChild);
      }
      box.textContent = "";
      box.hidden = !mine.length && !message;
      if (message) { box.appendChild(element("p", "outbox-note", message)); }
      if (!mine.length) { return; }
      box.appendChild(element("h2", "", text.title));
      var list = element("ul", "plain outbox-list");
      mine.sort(function (a, b) { return a.created - b.created; }).forEach(function (draft) {
        var item = element("li", "outbox-item outbox-" + draft.status);
        item.appendChild(element("span", "outbox-label", fallbackLabel(draft)));
        item.appendChild(document.createTextNode(" — "));
        item.appendChild(element("strong", "outbox-status", statusText(draft)));
        if (draft.status === "login") {
          var login = element("a", "", text.loginLink);
          login.href = "/entrar?next=" + encodeURIComponent(location.pathname + location.search);
          item.appendChild(document.createTextNode(" "));
          item.appendChild(login);
        }
        if (draft.status === "review" && draft.answer) {
          var review = element("button", "", text.reviewButton);
          review.type = "button";
          review.addEventListener("click", function () {
            // The server's answer: the form with its errors, as if it had been sent from here.
            outbox.remove(draft.id).then(function () {
              if (draft.answerUrl) { history.replaceState(null, "", draft.answerUrl); }
              document.open();
              document.write(draft.answer);
              document.close();
            });
          });
          item.appendChild(review);
        }
        var discard = element("button", "link", text.discard);
        discard.type = "button";
        discard.addEventListener("click", function () {
          if (window.confirm(text.confirmDiscard)) { outbox.remove(draft.id).then(render); }
        });
        item.appendChild(discard);
        list.appendChild(item);
      });
      box.appendChild(list);
      if (mine.some(function (d) { return d.status === "pending" || d.status === "login"; })) {
        var send = element("button", "", text.send);
        send.type = "button";
        send.addEventListener("click", flush);
        box.appendChild(send);
      }
    }).catch(function () {});
  }

  var flushing = null, sentCount = 0;

  function said(sent) {
    if (!sent) { return; }
    sentCount += sent;
    message = text.sent.replace("{n}", sentCount);
  }

  function flush() {
    if (flushing) { return flushing; }
    flushing = outbox.flush(user).then(function (result) {
      said(result.sent);
    }).catch(function () {}).then(function () { flushing = null; return render(); });
    return flushing;
  }

  // The photos of a draft, shrunk on the phone as photo-shrink.js does before sending.
  function shrunk(form, data) {
    var photos = window.MercadoPhotos;
    if (!photos || photos.input.form !== form || !photos.input.files || !photos.input.files.length) {
      return Promise.resolve(data);
    }
    data.delete(photos.input.name);
    return Promise.all(Array.prototype.map.call(photos.input.files, photos.shrink)).then(function (list) {
      list.forEach(function (photo) { data.append(photos.input.name, photo.blob, photo.name); });
      return data;
    });
  }

  function keepDraft(form, url, data, submitter) {
    return outbox.save(url.pathname + url.search, data, labelFor(form, submitter), user).then(function () {
      message = text.saved;
      form.reset();
      freshKeys(form);
      return navigator.serviceWorker && navigator.serviceWorker.ready.then(function (registration) {
        return registration.sync && registration.sync.register("outbox");
      }).catch(function () {});
    }).then(render).then(function () {
      if (box) { box.scrollIntoView({ block: "start" }); }
    });
  }

  function keep(event) {
    var form = event.target, url = drafted(form);
    if (!url || navigator.onLine) { return; }
    // No connection: keep it on the phone instead of letting the browser fail.
    event.preventDefault();
    event.stopImmediatePropagation();
    var submitter = event.submitter || null, data;
    try { data = new FormData(form, submitter); } catch (error) { data = new FormData(form); }
    shrunk(form, data).then(function (ready) { return keepDraft(form, url, ready, submitter); });
  }

  // photo-shrink.js found no network while sending: keep what it was sending (photos shrunk).
  function keepFailed(event) {
    var form = event.target, url = drafted(form);
    if (!url || !(event.detail instanceof FormData)) { return; }
    event.preventDefault();
    keepDraft(form, url, event.detail, null);
  }

  document.addEventListener("submit", keep, true);
  document.addEventListener("mercado:send-failed", keepFailed, true);
  window.addEventListener("online", flush);
  if (outbox.channel) {
    outbox.channel.addEventListener("message", function (event) {
      if (event.data && event.data.sent) { said(event.data.sent); }
      render();
    });
  }
  freshKeys(document);
  if (/[?&]guardado=1/.test(location.search)) { message = text.saved; }
  render().then(function () { if (navigator.onLine) { return flush(); } });
})();
