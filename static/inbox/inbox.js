// Support Inbox: the little behaviour that must run in the browser. Everything here is presentation;
// the server decides what may be sent (the compose area is re-rendered by the server when a countdown
// reaches zero). Loaded as a static file, so the strict Content-Security-Policy holds.
(function () {
  "use strict";

  // --- The agent's time zone: the server renders times in it (inbox.middleware) -----------------------
  function syncTimeZone() {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    if (!zone) return;
    var current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
    if (current && decodeURIComponent(current) === zone) return;
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    // Once per session: show this first page in the agent's zone too.
    if (!sessionStorage.getItem("tz-reloaded")) {
      sessionStorage.setItem("tz-reloaded", "1");
      location.reload();
    }
  }

  // --- Countdowns ------------------------------------------------------------------------------------
  // The server's clock is the reference: the page carries the server time it was rendered at.
  var serverOffset = 0;
  function readServerOffset() {
    var holder = document.querySelector("[data-server-now]");
    if (!holder) return;
    var server = Date.parse(holder.getAttribute("data-server-now"));
    if (!isNaN(server)) serverOffset = server - Date.now();
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var h = Math.floor((total % 86400) / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    return (days ? days + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
  }

  function tick() {
    var now = Date.now() + serverOffset;
    var clocks = document.querySelectorAll("time[data-window-countdown]");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var ends = Date.parse(el.getAttribute("datetime"));
      if (isNaN(ends)) continue;
      var left = ends - now;
      var warnWithin = parseInt(el.getAttribute("data-warn-within") || "3600", 10) * 1000;
      if (left <= 0) {
        el.textContent = "00:00:00";
        el.classList.add("expired");
        el.classList.remove("warning");
        var badge = el.closest(".badge");
        if (badge) {
          badge.classList.remove("badge-open", "badge-closing");
          badge.classList.add("badge-closed");
          badge.textContent = "Window closed";
        }
        if (!el.hasAttribute("data-fired")) {
          el.setAttribute("data-fired", "");
          // The compose area (or side panel) listens for this and asks the server for its new state.
          el.dispatchEvent(new CustomEvent(el.getAttribute("data-event") || "window-closed", { bubbles: true }));
        }
        continue;
      }
      el.textContent = clock(left);
      var warn = warnWithin > 0 && left <= warnWithin;
      el.classList.toggle("warning", warn);
      var row = el.closest(".badge");
      if (row && warn) {
        row.classList.remove("badge-open");
        row.classList.add("badge-closing");
      }
    }
  }

  // --- Compose ---------------------------------------------------------------------------------------
  function onKeydown(event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var area = event.target.closest && event.target.closest("form.free-form textarea");
    if (area) {
      event.preventDefault();
      area.form.requestSubmit();
    }
  }

  // The template picker's category and language filters only hide options; the server decides. A chosen
  // template that the filters now hide is unselected, with its fields and Send button, and a note says why:
  // what is on screen is always what would be sent.
  function filterTemplates(picker) {
    var wanted = {};
    picker.querySelectorAll("[data-template-filter]").forEach(function (select) {
      wanted[select.getAttribute("data-template-filter")] = select.value;
    });
    picker.querySelectorAll("#template-choice option[data-category]").forEach(function (option) {
      var show =
        (!wanted.category || option.getAttribute("data-category") === wanted.category) &&
        (!wanted.language || option.getAttribute("data-language") === wanted.language);
      option.hidden = !show;
      // Approved templates the inbox cannot fill stay visible for their reason, never choosable.
      option.disabled = !show || option.hasAttribute("data-not-sendable");
    });
    var choice = picker.querySelector("#template-choice");
    var chosen = choice && choice.selectedOptions[0];
    var note = picker.querySelector("[data-template-cleared]");
    if (chosen && chosen.value && (chosen.hidden || chosen.disabled)) {
      choice.value = "";
      var fields = picker.querySelector("#template-fields");
      if (fields) fields.replaceChildren();
      if (note) {
        note.textContent =
          "“" + (chosen.getAttribute("data-name") || chosen.textContent) + "” is not in the category or " +
          "language chosen, so it is no longer selected: choose a template from the list.";
        note.hidden = false;
      }
    } else if (note) {
      note.hidden = true;
    }
  }

  function onChange(event) {
    var filter = event.target.closest && event.target.closest("[data-template-filter]");
    if (filter) filterTemplates(filter.closest("form"));
    if (event.target.id === "template-choice") {
      var note = event.target.form && event.target.form.querySelector("[data-template-cleared]");
      if (note) note.hidden = true;
    }
  }

  function focusComposer(event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "compose") return;
    var area = target.querySelector("#compose-body");
    if (area && !target.querySelector(".error")) area.focus();
  }

  // Keep the newest message in view when the thread grows, unless the agent scrolled up to read.
  var stickToBottom = true;
  function scrollThread() {
    var thread = document.querySelector(".thread-scroll");
    if (thread && stickToBottom) thread.scrollTop = thread.scrollHeight;
  }
  function watchScroll() {
    var thread = document.querySelector(".thread-scroll");
    if (!thread || thread.hasAttribute("data-watched")) return;
    thread.setAttribute("data-watched", "");
    thread.addEventListener("scroll", function () {
      stickToBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    });
  }

  function start() {
    syncTimeZone();
    readServerOffset();
    tick();
    setInterval(tick, 1000);
    document.addEventListener("keydown", onKeydown);
    document.addEventListener("change", onChange);
    document.body.addEventListener("htmx:afterSwap", function (event) {
      tick();
      focusComposer(event);
      scrollThread();
    });
    document.body.addEventListener("htmx:load", function () {
      watchScroll();
    });
    watchScroll();
    scrollThread();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
