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

  // A zip made in the background is ready (HX-Trigger from the server):
  // start its download; the page stays where it is.
  document.addEventListener("pbforms:download", function (event) {
    window.location.href = event.detail.value;
  });
})();
