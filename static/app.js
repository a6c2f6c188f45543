// The little JavaScript the pages need; everything else is htmx attributes.
(function () {
  "use strict";

  // 409 (outdated tab / report no longer editable) and 401 (session ended)
  // carry a message for the status line: swap it in, they are not failures
  // of the connection.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "40[19]", swap: true },
    { code: "[45]..", swap: false, error: true },
    { code: "...", swap: false },
  ];

  // A swap keeps no inline style from the old element: the text boxes'
  // heights are set by script, and copying them as a style attribute would
  // break the Content-Security-Policy (style-src 'self').
  htmx.config.attributesToSettle = ["class", "width", "height"];

  // A form's own request (a change, typing, a retry: not a submit) carries
  // no button. htmx would send it with the button the focus rests on — its
  // formaction and its value — so a Tab from the last field onto 提交审核
  // submitted the report, and onto 删除 deleted the item.
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    var trigger = event.detail.triggeringEvent;
    if (form.tagName !== "FORM" || (trigger && trigger.type === "submit")) return;
    event.detail.path = form.getAttribute("hx-" + event.detail.verb) || event.detail.path;
    Array.prototype.forEach.call(form.querySelectorAll("button[name], input[type=submit][name]"), function (button) {
      delete event.detail.parameters[button.name];
    });
  });

  var retryTimer = null;

  // The server's own explanation of a refused request (errors/_message.html,
  // e.g. an expired page or too much text), so the clerk learns what to do.
  function serverMessage(xhr) {
    if (!xhr || !xhr.responseText) return "";
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var message = doc.getElementById("save-status");
    return message ? message.textContent.trim() : "";
  }

  // One place for every failed request: the status line turns red and
  // stays so until a save succeeds; nothing on the page is touched. The
  // form is sent again every 10 seconds, so text typed while offline is
  // saved once the server answers again.
  function showFailure(event) {
    var status = document.getElementById("save-status");
    if (status) {
      status.className = "save-status failed";
      status.setAttribute("role", "alert");
      var code = event.detail.xhr && event.detail.xhr.status;
      var reason = serverMessage(event.detail.xhr);
      status.textContent = reason ? "保存失败：" + reason :
        "保存失败" + (code ? "（服务器返回 " + code + "）" : "（网络不通）") +
        "。内容仍在页面上，请不要关闭页面，系统会自动重试。";
    }
    var form = document.getElementById("report-form");
    if (form && !retryTimer) {
      retryTimer = setInterval(function () { htmx.trigger(form, "change"); }, 10000);
    }
  }
  document.addEventListener("htmx:responseError", showFailure);
  document.addEventListener("htmx:sendError", showFailure);
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful && retryTimer) {
      clearInterval(retryTimer);
      retryTimer = null;
    }
  });

  // A field changed before the scripts had run (a slow first load: the
  // form shows before htmx starts) told no one; save it now, as a change
  // would have. htmx sets itself up on this same event, registered first.
  function changedBeforeReady(form) {
    return Array.prototype.some.call(form.elements, function (field) {
      if (!field.name || field.type === "hidden") return false;
      if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
      if (field.tagName === "SELECT") {
        return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
      }
      return "defaultValue" in field && field.value !== field.defaultValue;  // not buttons
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("report-form");
    if (form && changedBeforeReady(form)) htmx.trigger(form, "change");
  });

  // "插入数字": put ⟦label⟧ at the cursor of the text area it belongs to.
  document.addEventListener("change", function (event) {
    var picker = event.target.closest && event.target.closest("select[data-insert-into]");
    if (!picker || !picker.value) return;
    var area = document.getElementById(picker.dataset.insertInto);
    var start = area.selectionStart, end = area.selectionEnd;
    area.value = area.value.slice(0, start) + picker.value + area.value.slice(end);
    area.focus();
    area.selectionStart = area.selectionEnd = start + picker.value.length;
    picker.value = "";
    area.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Steps that are hard to undo ask first, in words saying what follows
  // (data-confirm on the form or on the button pressed). Capturing, so a
  // "no" stops the form before htmx or the browser sends it.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var question = (submitter && submitter.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // Text boxes as tall as their text, on every page and after every swap.
  function grow(area) {
    area.style.height = "auto";
    area.style.height = (area.scrollHeight + area.offsetHeight - area.clientHeight) + "px";
  }
  htmx.onLoad(function (root) {
    var areas = root.tagName === "TEXTAREA" ? [root] : root.querySelectorAll("textarea");
    Array.prototype.forEach.call(areas, function (area) {
      area.classList.add("grows");
      grow(area);
    });
  });
  document.addEventListener("input", function (event) {
    if (event.target.tagName === "TEXTAREA") grow(event.target);
  });
  // An item's heading wraps on screen but prints as one line: Enter adds no line.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("textarea.heading")) {
      event.preventDefault();
    }
  });
  window.addEventListener("resize", function () {
    Array.prototype.forEach.call(document.querySelectorAll("textarea.grows"), grow);
  });

  // --- A copy in the browser ------------------------------------------------
  // While the clerk types, the form is kept in localStorage (per user and
  // report) until the server has saved it. A page opened with a copy that
  // differs from what it shows offers it back: restoring posts the copy as
  // it was (with its version and bases), so the server merges it with what
  // changed meanwhile (pbforms/merge.py) and nothing is overwritten unasked.
  var storage = null;
  try { storage = window.localStorage; } catch (e) { storage = null; }

  function formValues(form) {
    var out = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "op" && name !== "resolve") out[name] = value;
    });
    return out;
  }
  function isContent(name) { return name !== "version" && name.indexOf("base-") !== 0; }
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function offerCopy(form, key, copy, differing) {
    var banner = document.createElement("div");
    banner.className = "banner draft-offer";
    banner.setAttribute("role", "alert");
    var text = document.createElement("p");
    var at = new Date(copy.at);
    text.textContent = "这台电脑上还保存着您 " + at.toLocaleString("zh-CN", { hour12: false }) +
      " 在本报告中输入、尚未保存到服务器的内容（" + differing + " 处与现在不同）。" +
      "恢复后会与报告现在的内容合并保存；同一处在另一个页面或由其他人也改过的，两份都会保留，供您选择。";
    var restore = document.createElement("button");
    restore.type = "button";
    restore.className = "primary";
    restore.textContent = "恢复并保存";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.textContent = "丢弃";
    banner.appendChild(text);
    banner.appendChild(restore);
    banner.appendChild(document.createTextNode(" "));
    banner.appendChild(discard);
    form.parentNode.insertBefore(banner, form);
    discard.addEventListener("click", function () {
      storage.removeItem(key);
      banner.remove();
    });
    restore.addEventListener("click", function () {
      restore.disabled = true;
      var body = new URLSearchParams();
      Object.keys(copy.fields).forEach(function (name) { body.append(name, copy.fields[name]); });
      fetch(form.getAttribute("action"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      }).then(function (response) {
        if (response.status === 200) {
          storage.removeItem(key);
          window.location.reload();
        } else {
          return response.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var status = doc.getElementById("save-status");
            text.textContent = "没有恢复：" + (status ? status.textContent.trim() : "服务器返回 " + response.status) +
              "。这份内容仍保存在这台电脑上。";
            restore.disabled = false;
          });
        }
      }).catch(function () {
        text.textContent = "没有恢复：网络不通。这份内容仍保存在这台电脑上，网络恢复后请再试。";
        restore.disabled = false;
      });
    });
  }

  function keepCopies(form) {
    var key = form.dataset.draftKey;
    var edits = 0, savedEdits = 0, sending = null, leaving = false;
    var copy = null;
    try { copy = JSON.parse(storage.getItem(key)); } catch (e) { copy = null; }
    if (copy && copy.fields) {
      var shown = formValues(form);
      var names = Object.keys(copy.fields).concat(Object.keys(shown)).filter(isContent);
      var differing = names.filter(function (name, i) {
        return names.indexOf(name) === i && copy.fields[name] !== shown[name];
      }).length;
      if (differing) offerCopy(form, key, copy, differing);
      else storage.removeItem(key);
    }
    function edited() {
      edits += 1;
      try {
        storage.setItem(key, JSON.stringify({ at: Date.now(), fields: formValues(form) }));
      } catch (e) { /* storage full or refused: the server copy still counts */ }
    }
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
    function ours(event) { return event.detail.elt === form || form.contains(event.detail.elt); }
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (ours(event)) sending = edits;
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      if (!ours(event) || sending === null) return;
      // Saved, unless the server could not keep some refused typing (too much).
      var xhr = event.detail.xhr;
      if (xhr && xhr.status === 200 && !xhr.getResponseHeader("PBForms-Not-Kept")) {
        savedEdits = Math.max(savedEdits, sending);
        if (savedEdits >= edits) storage.removeItem(key);
      }
    });
    // A plain submit (提交审核) sends everything: leaving then loses nothing.
    form.addEventListener("submit", function () { leaving = true; });
    window.addEventListener("beforeunload", function (event) {
      if (!leaving && savedEdits < edits) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  // --- An autosave sends only what changed ----------------------------------
  // The page remembers what each field held when the server last had it (as
  // shown, then as each save sent it), and a form's own request (a change,
  // typing, a retry) sends only the fields that differ, and every field's
  // base (pbforms/merge.py: the server shows anew those others changed): a
  // save of one field costs the server little however long the report. Buttons (item steps, 用我的, a fix …) and a page without
  // scripts send the whole form. A field the server could not keep as typed
  // (too much) counts as unsaved, so it goes with every save, as its message.
  function fieldKey(name, keys) {
    if (name.indexOf("base-") === 0) return null;
    var found = null;
    keys.forEach(function (key) {
      if ((name === key || name.indexOf(key + "-") === 0) && (found === null || key.length > found.length)) found = key;
    });
    return found;
  }
  // {field key: its controls' names and values, as one string}; as the page
  // was sent by the server (`initial`) or as it is now.
  function fieldsOf(form, keys, initial, only) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (control) {
      if (!control.name || control.disabled || control.tagName === "BUTTON" || control.type === "submit") return;
      var key = fieldKey(control.name, keys);
      if (key === null || (only && only.indexOf(key) < 0)) return;
      var values = [];
      if (control.type === "checkbox" || control.type === "radio") {
        if (initial ? control.defaultChecked : control.checked) values.push(control.value);
      } else if (control.tagName === "SELECT") {
        Array.prototype.forEach.call(control.options, function (option) {
          if (initial ? option.defaultSelected : option.selected) values.push(option.value);
        });
      } else {
        values.push(initial ? control.defaultValue : control.value);
      }
      out[key] = (out[key] || "") + values.map(function (v) { return control.name + "=" + v + "\n"; }).join("");
    });
    return out;
  }

  function sendChangesOnly(form) {
    var keys = Array.prototype.map.call(form.querySelectorAll("input[name^='base-']"), function (input) {
      return input.name.slice("base-".length);
    });
    var saved = fieldsOf(form, keys, true);
    var shownAs = {};  // the element each field was remembered with: a swap brings in the server's
    keys.forEach(function (key) { shownAs[key] = document.getElementById("field-" + key); });
    var sending = null;
    document.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt !== form && !form.contains(event.detail.elt)) return;
      var now = fieldsOf(form, keys, false);
      var trigger = event.detail.triggeringEvent;
      var whole = event.detail.elt !== form || (trigger && trigger.type === "submit");
      var changed = keys.filter(function (key) { return whole || now[key] !== saved[key]; });
      sending = {};
      changed.forEach(function (key) { sending[key] = now[key]; });
      if (whole) return;
      var params = event.detail.formData;
      Array.from(params.keys()).forEach(function (name) {
        var key = fieldKey(name, keys);
        if (key !== null && changed.indexOf(key) < 0) params.delete(name);
      });
    });
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt === form || form.contains(event.detail.elt)) event.detail.xhr.pbformsSent = sending;
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      var xhr = event.detail.xhr;
      if (xhr && xhr.status === 200 && xhr.pbformsSent) {
        var notKept = (xhr.getResponseHeader("PBForms-Not-Kept") || "").split(" ");
        Object.keys(xhr.pbformsSent).forEach(function (key) {
          if (notKept.indexOf(key) < 0) saved[key] = xhr.pbformsSent[key];
        });
      }
      var swapped = keys.filter(function (key) {
        var now = document.getElementById("field-" + key);
        return now && now !== shownAs[key];
      });
      if (swapped.length) {
        var shown = fieldsOf(form, keys, true, swapped);
        swapped.forEach(function (key) {
          saved[key] = shown[key];
          shownAs[key] = document.getElementById("field-" + key);
        });
      }
    });
  }

  // On a shared PC nobody finds another's typing: logging out clears this
  // user's copies, logging in (any page of a user) clears everyone else's,
  // and no copy outlives a day, whoever comes next.
  var COPIES = "pbforms:draft:";
  var COPY_LIFETIME = 24 * 60 * 60 * 1000;
  function dropCopies(dropped) {
    for (var i = storage.length - 1; i >= 0; i -= 1) {
      var name = storage.key(i);
      if (name && name.indexOf(COPIES) === 0 && dropped(name)) storage.removeItem(name);
    }
  }
  function stale(name) {
    var copy = null;
    try { copy = JSON.parse(storage.getItem(name)); } catch (e) { copy = null; }
    return !(copy && Date.now() - copy.at < COPY_LIFETIME);
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!storage) return;
    var user = document.querySelector("form[data-drafts]");
    var mine = user && user.dataset.drafts;
    dropCopies(function (name) { return (mine && name.indexOf(mine) !== 0) || stale(name); });
    var form = document.getElementById("report-form");
    if (form && form.dataset.draftKey) keepCopies(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("report-form");
    if (form) sendChangesOnly(form);
  });
  document.addEventListener("submit", function (event) {
    var mine = event.target.dataset && event.target.dataset.drafts;
    if (mine && storage) dropCopies(function (name) { return name.indexOf(mine) === 0; });
  });

  // "插入参考范文" of a text field: the model text (its 【年度】【单位】 filled by
  // the server) goes after what is typed, or into a one-line field that is
  // still empty (or, asked, replaces it); the change event saves it as typing would. (Items are
  // added by the server: that button posts op model:KEY through htmx.)
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-model-into]");
    if (!button) return;
    event.preventDefault();
    var field = document.getElementById(button.dataset.modelInto);
    var model = button.dataset.modelText;
    if (field.tagName === "TEXTAREA") {
      var typed = field.value.replace(/\s+$/, "");
      field.value = typed ? typed + "\n" + model : model;
    } else if (!field.value.trim() || window.confirm("用参考范文替换已填写的内容？")) {
      field.value = model;
    } else {
      return;
    }
    button.closest("details").open = false;
    field.focus();
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // A zip made in the background is ready (HX-Trigger from the server):
  // start its download; the page stays where it is.
  document.addEventListener("pbforms:download", function (event) {
    window.location.href = event.detail.value;
  });
})();
