/* Photos that arrive on a slow rural link (progressive: without it the form posts the
   original photos and the server shrinks them).

   Before the listing form is sent, each chosen photo is shrunk on the phone to at most
   data-max-side px on its long side, as JPEG of data-quality, upright (EXIF orientation
   applied) and without metadata (a canvas re-encodes only pixels). The form is then sent
   with XMLHttpRequest so the upload shows its progress, with the submit button disabled;
   the server's answer (the next page, or the form with its errors) replaces this page as a
   normal navigation would. A failed send keeps everything typed and chosen. */
(function () {
  "use strict";
  var box = document.querySelector("[data-photo-shrink]");
  if (!box || !window.FormData || !window.XMLHttpRequest || !window.Promise || !window.Blob) {
    return;
  }
  var input = box.querySelector('input[type="file"]');
  var form = input && input.form;
  var status = box.querySelector(".upload-status");
  if (!form || !status || !HTMLCanvasElement.prototype.toBlob) {
    return;
  }
  var bar = status.querySelector("progress");
  var text = status.querySelector("[role=status]");
  var maxSide = Number(box.getAttribute("data-max-side")) || 1600;
  var quality = Number(box.getAttribute("data-quality")) || 0.8;
  var sending = false;
  var lastSaid = -1;

  function message(name, percent) {
    return (box.getAttribute("data-msg-" + name) || "").replace("{p}", String(percent));
  }

  function say(words, value) {
    status.hidden = false;
    if (words !== null) {
      text.textContent = words;
    }
    if (value === null) {
      bar.removeAttribute("value");
    } else {
      bar.value = value;
    }
  }

  function decode(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () {
        return createImageBitmap(file);
      });
    }
    // Browsers draw an <img> upright (CSS image-orientation: from-image is the default).
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }

  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) {
      return Promise.resolve({ blob: file, name: file.name });
    }
    return decode(file).then(function (image) {
      var width = image.naturalWidth || image.width;
      var height = image.naturalHeight || image.height;
      var scale = Math.min(1, maxSide / Math.max(width, height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";  // transparent PNG areas become white, not black
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.imageSmoothingQuality = "high";
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      if (image.close) {
        image.close();
      }
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          canvas.width = canvas.height = 0;  // free the pixels at once on small phones
          if (!blob || (scale === 1 && blob.size >= file.size)) {
            resolve({ blob: file, name: file.name });
          } else {
            resolve({ blob: blob, name: (file.name || "foto").replace(/\.[^.]*$/, "") + ".jpg" });
          }
        }, "image/jpeg", quality);
      });
    }).catch(function () {
      return { blob: file, name: file.name };  // the server checks and shrinks it anyway
    });
  }

  function buttons(disabled) {
    var list = form.querySelectorAll('button:not([type]), button[type="submit"], input[type="submit"]');
    for (var i = 0; i < list.length; i += 1) {
      list[i].disabled = disabled;
    }
    form.setAttribute("aria-busy", disabled ? "true" : "false");
  }

  function entries(submitter) {
    var data;
    try {
      data = new FormData(form, submitter || undefined);
    } catch (error) {
      data = new FormData(form);
      if (submitter && submitter.name) {
        data.append(submitter.name, submitter.value);
      }
    }
    data.delete(input.name);
    return data;
  }

  function withoutHash(url) {
    return String(url).split("#")[0];
  }

  function show(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var url = xhr.responseURL || location.href;
    if (type.indexOf("text/html") !== 0) {
      location.assign(url);
      return;
    }
    // The answer is the page a normal post would have shown: put it in place of this one.
    if (withoutHash(url) !== withoutHash(location.href)) {
      history.replaceState(null, "", url);
    }
    document.open();
    document.write(xhr.responseText);
    document.close();
  }

  function fail() {
    sending = false;
    buttons(false);
    say(message("failed"), 0);
  }

  function send(data) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || location.href);
    xhr.upload.onprogress = function (event) {
      if (!event.lengthComputable) {
        return;
      }
      var percent = Math.floor((event.loaded * 100) / event.total);
      // Announce in steps of ten so a screen reader is not flooded.
      var step = Math.floor(percent / 10) * 10;
      say(step !== lastSaid ? message("sending", step) : null, percent);
      lastSaid = step;
    };
    xhr.upload.onload = function () {
      say(message("saving"), null);
    };
    xhr.onload = function () {
      show(xhr);
    };
    xhr.onerror = function () {
      // No connection after all: the offline draft script (offline.js) may keep the form,
      // photos already shrunk, on the phone to send later.
      var kept = !form.dispatchEvent(new CustomEvent("mercado:send-failed", { cancelable: true, detail: data }));
      if (kept) {
        sending = false;
        buttons(false);
        status.hidden = true;
      } else {
        fail();
      }
    };
    xhr.ontimeout = fail;
    xhr.onabort = fail;
    xhr.send(data);
  }

  // offline.js shrinks the photos of a draft kept without a connection the same way.
  window.MercadoPhotos = { shrink: shrink, input: input };

  form.addEventListener("submit", function (event) {
    if (sending) {
      event.preventDefault();
      return;
    }
    // Another script (the offline draft) may have taken this submit; without a connection
    // there is nothing to send now.
    if (event.defaultPrevented || navigator.onLine === false) {
      return;
    }
    event.preventDefault();
    sending = true;
    lastSaid = -1;
    var data = entries(event.submitter);
    var files = Array.prototype.slice.call(input.files || []);
    buttons(true);
    say(message(files.length ? "preparing" : "sending", 0), files.length ? null : 0);
    Promise.all(files.map(shrink)).then(function (photos) {
      photos.forEach(function (photo) {
        data.append(input.name, photo.blob, photo.name);
      });
      send(data);
    }).catch(fail);
  });
}());
