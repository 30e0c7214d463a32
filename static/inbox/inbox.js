// Support Inbox: the little behaviour that must run in the browser. Everything here is presentation;
// the server decides what may be sent (the compose area is re-rendered by the server when a countdown
// reaches zero, and when the thread shows the customer wrote). Time that passes is rendered here, from
// `datetime` attributes, so a poll with nothing new gets 204 whatever the clock says; the customer list
// is merged in place, so nothing moves under the agent. Loaded as a static file: the strict CSP holds.
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
        var row = el.closest("li.row");
        if (row && !el.closest(".badge-fep")) {
          // The list's row follows the window at zero like the compose area: no reply is possible now.
          var needs = row.querySelector(".needs-reply");
          if (needs) needs.hidden = true;
          // Unanswered when the window closed: the thread is lost (only a template reaches them now).
          var lost = row.querySelector(".lost[hidden]");
          if (lost) lost.hidden = false;
        }
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
    // Only when the agent was in the compose area (a send, a refusal): a re-render because the window
    // changed never takes the focus from where the agent is (the search, the list).
    if (document.activeElement && document.activeElement !== document.body) return;
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


  // --- The customer list: polled, merged in place --------------------------------------------------
  // The poll names the version the list shows and its last row (`through`): 204 when nothing changed;
  // otherwise every row down to that one, and only rows whose fingerprint changed are replaced. Rows
  // loaded with "Older customers", the scroll position (the browser's scroll anchoring), keyboard focus
  // and a half-typed search (outside the list) all survive.
  var LIST_EVERY = 5000;
  var listInFlight = null;

  function lastRow(list) {
    var rows = list.querySelectorAll("ol.customers > li.row");
    return rows.length ? rows[rows.length - 1] : null;
  }

  function pollList() {
    var list = document.getElementById("customer-list");
    if (!list || listInFlight || !window.fetch) return;
    var url = list.getAttribute("data-poll-url");
    if (!url) return;
    var last = lastRow(list);
    // With more rows to load ("Older customers"), the poll covers what is shown; a complete list asks
    // for all of it, so a row that joins the filter anywhere appears.
    var partial = !!list.querySelector("ol.customers > li.older");
    var through = partial && last ? last.getAttribute("data-cursor") : "end";
    var asked = [];
    list.querySelectorAll("ol.customers > li.row").forEach(function (row) {
      asked.push(row.getAttribute("data-id"));
    });
    url += (url.indexOf("?") < 0 ? "?" : "&") + "v=" + encodeURIComponent(list.getAttribute("data-version") || "") +
      "&through=" + encodeURIComponent(through);
    listInFlight = url;
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true", "HX-Target": "customer-list" } })
      .then(function (response) {
        answered(response.status);
        if (response.status !== 200) return null;
        return response.text();
      })
      .then(function (html) {
        // A filter or a search replaced the list meanwhile: this answer is about another list.
        if (html && document.getElementById("customer-list") === list) mergeList(list, html, asked, !partial);
      })
      .catch(function () {
        showNotice("unreachable");
      })
      .then(function () {
        listInFlight = null;
      });
  }

  function mergeList(list, html, asked, complete) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("customer-list");
    if (!fresh) return;
    fresh.querySelectorAll(".count[id^='count-']").forEach(function (count) {
      var mine = document.getElementById(count.id);
      if (mine && mine.textContent !== count.textContent) mine.textContent = count.textContent;
    });
    list.setAttribute("data-version", fresh.getAttribute("data-version") || "");
    list.setAttribute("data-alerts", fresh.getAttribute("data-alerts") || ""); // static/inbox/alerts.js
    var ol = list.querySelector("ol.customers");
    var freshOl = fresh.querySelector("ol.customers");
    if (!ol || !freshOl) return;
    var active = document.activeElement;
    var activeRow = active && active.closest ? active.closest("#customer-list li.row") : null;
    var activeId = activeRow ? activeRow.getAttribute("data-id") : null;
    var current = {};
    ol.querySelectorAll(":scope > li.row").forEach(function (row) {
      current[row.getAttribute("data-id")] = row;
    });
    var placed = {};
    var previous = null;
    freshOl.querySelectorAll(":scope > li.row").forEach(function (incoming) {
      var id = incoming.getAttribute("data-id");
      var row = current[id];
      if (!row || row.getAttribute("data-fp") !== incoming.getAttribute("data-fp")) {
        var replacement = document.importNode(incoming, true);
        if (row) row.replaceWith(replacement);
        row = replacement;
        if (window.htmx) window.htmx.process(row); // its link opens the customer in place
      }
      placed[id] = true;
      var expected = previous ? previous.nextElementSibling : ol.firstElementChild;
      if (expected !== row) ol.insertBefore(row, expected);
      previous = row;
    });
    // Rows the poll covered and the server no longer lists have left this filter.
    asked.forEach(function (id) {
      if (!placed[id] && current[id] && current[id].parentNode) current[id].remove();
    });
    var empty = ol.querySelector(":scope > li.empty");
    var freshEmpty = freshOl.querySelector(":scope > li.empty");
    if (empty && !freshEmpty) empty.remove();
    if (freshEmpty && !empty) ol.appendChild(document.importNode(freshEmpty, true));
    var freshOlder = freshOl.querySelector(":scope > li.older");
    if (complete && freshOlder && !ol.querySelector(":scope > li.older")) {
      var older = document.importNode(freshOlder, true);
      ol.appendChild(older);
      if (window.htmx) window.htmx.process(older);
    }
    markSelected();
    if (activeId && document.activeElement !== active) {
      var same = active && active.isConnected ? active : ol.querySelector('li.row[data-id="' + activeId + '"] a');
      if (same) same.focus({ preventScroll: true });
    }
    tick();
  }

  // --- Opening a customer in place ----------------------------------------------------------------------
  // A row's link swaps only the thread, compose area and side panel (#workspace); the list stays as the
  // agent left it. The open customer's row is marked here, as the server would mark it.
  function openCustomerId() {
    var workspace = document.getElementById("workspace");
    return workspace ? workspace.getAttribute("data-customer") || "" : "";
  }

  function markSelected() {
    var id = openCustomerId();
    document.querySelectorAll("#customer-list li.row").forEach(function (row) {
      var chosen = row.getAttribute("data-id") === id;
      row.classList.toggle("selected", chosen);
      var link = row.querySelector("a");
      if (!link) return;
      if (chosen) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
  }

  function openedCustomer() {
    var id = openCustomerId();
    var workspace = document.getElementById("workspace");
    document.body.classList.toggle("has-customer", !!id);
    if (workspace && workspace.getAttribute("data-title")) document.title = workspace.getAttribute("data-title");
    // The list's poll and filters name the open customer, as the page did when it was loaded.
    var list = document.getElementById("customer-list");
    if (list && list.getAttribute("data-poll-url")) {
      var url = new URL(list.getAttribute("data-poll-url"), location.href);
      if (id) url.searchParams.set("selected", id);
      else url.searchParams.delete("selected");
      list.setAttribute("data-poll-url", url.pathname + url.search);
    }
    var hidden = document.querySelector("form.filters input[name='selected']");
    if (hidden && id) hidden.value = id;
    markSelected();
    stickToBottom = true;
    watchScroll();
    scrollThread();
    pollList(); // the unread count of the customer just read goes
  }

  // --- The window, followed both ways ---------------------------------------------------------------
  // The thread, the compose area and the side panel each carry the data the customer's window depends on
  // (data-window-key). When the thread shows a newer one (the customer wrote), the compose area and the
  // side panel ask the server for their new state; at zero the compose countdown does (window-closed).
  function windowKey(id) {
    var el = document.getElementById(id);
    return el ? el.getAttribute("data-window-key") : null;
  }

  function followWindow(swapped) {
    var compose = document.getElementById("compose");
    var side = document.getElementById("side");
    if (swapped === "thread" && compose && windowKey("thread") !== windowKey("compose")) {
      window.htmx.trigger(compose, "window-changed"); // bubbles to body: the side panel follows too
      pollList();
    } else if (swapped === "compose" && side && windowKey("compose") !== windowKey("side")) {
      window.htmx.trigger(side, "window-changed");
    }
  }

  // --- Drafts: what the agent typed is never lost -----------------------------------------------------
  // Kept in this browser per customer until it is sent: through a window closing under it (shown beside
  // the template picker, with Copy), a reopening (back in the reply box), a session that ended.
  function draftKey(compose) {
    return "inbox-draft:" + compose.getAttribute("data-customer");
  }

  function storeDraft(compose, text) {
    try {
      if (text) localStorage.setItem(draftKey(compose), text);
      else localStorage.removeItem(draftKey(compose));
    } catch (e) {
      /* storage full or disabled: the page still keeps the text while it is open */
    }
  }

  function storedDraft(compose) {
    try {
      return localStorage.getItem(draftKey(compose)) || "";
    } catch (e) {
      return "";
    }
  }

  function restoreDraft() {
    var compose = document.getElementById("compose");
    if (!compose || !compose.getAttribute("data-customer")) return;
    if (compose.getAttribute("data-sent") === "free_form") storeDraft(compose, "");
    var stored = storedDraft(compose);
    var area = compose.querySelector("#compose-body");
    if (area) {
      if (!area.value && stored) area.value = stored;
      else if (area.value) storeDraft(compose, area.value);
    }
    var box = compose.querySelector("[data-draft-box]");
    if (box) {
      var text = box.querySelector("textarea");
      if (text.value) storeDraft(compose, text.value); // a refused send: the server gave it back
      else if (stored) text.value = stored;
      box.hidden = !text.value;
    }
  }

  function onInput(event) {
    if (event.target.id !== "compose-body") return;
    var compose = event.target.closest("#compose");
    if (compose) {
      storeDraft(compose, event.target.value);
      showTyping(compose);
    }
  }

  // --- Replies and the typing indicator ------------------------------------------------------------
  // A message's Reply action puts its quote above the reply box (the server checks it on send); the ×
  // sends without it. While the agent types, the customer is shown "typing…": the page asks at most every
  // 20 s per customer, and the server (which also throttles, across agents) decides whether to.
  var TYPING_EVERY = 20000;
  var typingAskedAt = {};

  function showTyping(compose) {
    var url = compose.getAttribute("data-typing-url");
    var id = compose.getAttribute("data-customer");
    if (!url || !window.fetch || !compose.querySelector("form.free-form")) return;
    var now = Date.now();
    if (typingAskedAt[id] && now - typingAskedAt[id] < TYPING_EVERY) return;
    typingAskedAt[id] = now;
    var headers = { "HX-Request": "true" };
    var token = csrfToken();
    if (token) headers["X-CSRFToken"] = token;
    fetch(url, { method: "POST", credentials: "same-origin", headers: headers })
      .then(function (response) {
        answered(response.status);
      })
      .catch(function () {
        /* the indicator is a nicety: a failed one is not worth a notice */
      });
  }

  function setReply(compose, source) {
    var box = compose && compose.querySelector("[data-reply-quote]");
    if (!box) return false;
    box.querySelector("input[name='reply_to']").value = source ? source.getAttribute("data-reply-to") : "";
    box.querySelector("[data-reply-author]").textContent = source ? source.getAttribute("data-reply-author") : "";
    box.querySelector("[data-reply-text]").textContent = source ? source.getAttribute("data-reply-text") : "";
    box.hidden = !source;
    return true;
  }

  function onReplyClick(event) {
    var reply = event.target.closest && event.target.closest("[data-reply-to]");
    var cancel = event.target.closest && event.target.closest("[data-cancel-reply]");
    if (!reply && !cancel) return false;
    var compose = document.getElementById("compose");
    if (setReply(compose, reply)) {
      var area = compose.querySelector("#compose-body");
      if (area) area.focus();
    }
    return true;
  }

  function onClick(event) {
    if (onReplyClick(event)) return;
    var copy = event.target.closest && event.target.closest("[data-copy-draft]");
    var discard = event.target.closest && event.target.closest("[data-discard-draft]");
    var box = (copy || discard) && (copy || discard).closest("[data-draft-box]");
    if (!box) return;
    var text = box.querySelector("textarea");
    var result = box.querySelector("[data-copy-result]");
    if (discard) {
      var compose = box.closest("#compose");
      if (compose) storeDraft(compose, "");
      text.value = "";
      box.hidden = true;
      return;
    }
    var done = function () {
      if (result) result.textContent = "Copied.";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text.value).then(done, function () {
        text.select();
        if (result) result.textContent = "Selected: press Ctrl+C to copy.";
      });
    } else {
      text.select();
      if (result) result.textContent = "Selected: press Ctrl+C to copy.";
    }
  }

  function forgetDrafts(event) {
    // Signing out on purpose (a shared computer): no customer's text stays behind in this browser.
    if (!event.target.matches || !event.target.matches("form[action$='/logout/']")) return;
    try {
      Object.keys(localStorage).forEach(function (key) {
        if (key.indexOf("inbox-draft:") === 0) localStorage.removeItem(key);
      });
    } catch (e) {
      /* nothing stored */
    }
  }

  // --- A session that ended, a server that does not answer -----------------------------------------
  function showNotice(kind) {
    var notice = document.getElementById("page-notice");
    if (!notice) return;
    notice.querySelectorAll("[data-notice]").forEach(function (line) {
      line.hidden = line.getAttribute("data-notice") !== kind;
    });
    var link = notice.querySelector("[data-sign-in]");
    if (link) {
      if (!link.hasAttribute("data-base")) link.setAttribute("data-base", link.getAttribute("href"));
      link.setAttribute(
        "href",
        link.getAttribute("data-base") + "?next=" + encodeURIComponent(location.pathname + location.search)
      );
    }
    notice.hidden = !kind;
    document.body.classList.toggle("signed-out", kind === "signed-out");
  }

  function answered(status) {
    if (status === 401) showNotice("signed-out");
    else if (status >= 500 || status === 0) showNotice("unreachable");
    else if (status < 400) showNotice(null);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function onConfigRequest(event) {
    // Signing in again (in another tab) rotates the CSRF token: use the current one, not the page's.
    var token = csrfToken();
    if (!token) return;
    event.detail.headers["X-CSRFToken"] = token;
    if (event.detail.verb !== "get" && event.detail.parameters) {
      try {
        event.detail.parameters["csrfmiddlewaretoken"] = token;
      } catch (e) {
        /* the header is enough */
      }
    }
  }

  function start() {
    syncTimeZone();
    readServerOffset();
    tick();
    setInterval(tick, 1000);
    document.addEventListener("keydown", onKeydown);
    document.addEventListener("change", onChange);
    document.addEventListener("input", onInput);
    document.addEventListener("click", onClick);
    document.addEventListener("submit", forgetDrafts);
    document.body.addEventListener("htmx:configRequest", onConfigRequest);
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      // The compose area is about to be replaced (a countdown at zero, the customer wrote): keep the text.
      var area = document.getElementById("compose-body");
      var compose = document.getElementById("compose");
      if (area && compose && area.value) storeDraft(compose, area.value);
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      var xhr = event.detail.xhr;
      if (xhr) answered(xhr.status);
    });
    document.body.addEventListener("htmx:sendError", function () {
      showNotice("unreachable");
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      tick();
      restoreDraft();
      focusComposer(event);
      scrollThread();
    });
    document.body.addEventListener("htmx:afterSettle", function (event) {
      var target = event.detail && event.detail.target;
      followWindow(target ? target.id : "");
      if (target && target.id === "workspace") openedCustomer();
      else markSelected(); // a filter or search re-rendered the list
      // Older rows were loaded: the poll now covers them; learn their version at once, so the polls
      // that follow can answer 204.
      if (target && target.classList && target.classList.contains("older")) pollList();
    });
    ["message-sent", "assignment-changed", "window-refused", "status-changed"].forEach(function (name) {
      document.body.addEventListener(name, pollList);
    });
    setInterval(pollList, LIST_EVERY);
    restoreDraft();
    document.body.addEventListener("htmx:load", function () {
      watchScroll();
    });
    watchScroll();
    scrollThread();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
