// Issue 15 in the browser: the "/" list of canned replies in the reply box (and of approved templates
// when only templates can be sent), and the "@" list of colleagues in the private note box. One small
// listbox serves both: arrows move, Enter picks, Esc closes, a click picks. The server fills canned
// replies' variables (inbox.notes_views.canned_for_customer) and refuses a text that still holds one.
(function () {
  "use strict";

  var VARIABLE = /\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/g;
  var cannedCache = {}; // per URL: the replies filled for that customer, fetched on the first "/"

  // --- The listbox -------------------------------------------------------------------------------------
  var pop = null; // {box, list, items, active, onPick, anchor, search}

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function closePop() {
    if (!pop) return;
    var anchor = pop.anchor;
    pop.box.remove();
    anchor.removeAttribute("aria-activedescendant");
    anchor.setAttribute("aria-expanded", "false");
    pop = null;
  }

  function openPop(anchor, items, onPick, options) {
    closePop();
    var box = document.createElement("div");
    box.className = "picker-pop";
    box.setAttribute("data-picker-pop", "");
    var search = null;
    if (options && options.search) {
      search = document.createElement("input");
      search.type = "search";
      search.className = "picker-search";
      search.setAttribute("aria-label", options.search);
      search.placeholder = options.search;
      search.autocomplete = "off";
      box.appendChild(search);
    }
    var list = document.createElement("ul");
    list.setAttribute("role", "listbox");
    list.id = "picker-list";
    list.setAttribute("aria-label", (options && options.label) || "Choose");
    box.appendChild(list);
    var help = document.createElement("p");
    help.className = "hint";
    help.textContent = "↑ ↓ to move · Enter to insert · Esc to close";
    box.appendChild(help);
    anchor.insertAdjacentElement("afterend", box);
    anchor.setAttribute("aria-controls", "picker-list");
    anchor.setAttribute("aria-expanded", "true");
    pop = {
      box: box,
      list: list,
      all: items,
      items: [],
      active: 0,
      onPick: onPick,
      anchor: anchor,
      search: search,
      returnFocus: options && options.returnFocus,
    };
    if (search) {
      search.addEventListener("input", function () {
        filterPop(search.value);
      });
      search.addEventListener("keydown", onPopKey);
      search.focus();
    }
    filterPop("");
  }

  function filterPop(query) {
    if (!pop) return;
    var wanted = fold(query);
    pop.items = pop.all.filter(function (item) {
      return !wanted || fold(item.label + " " + (item.search || "")).indexOf(wanted) !== -1;
    });
    pop.active = 0;
    pop.list.replaceChildren();
    if (!pop.items.length) {
      var none = document.createElement("li");
      none.className = "picker-none";
      none.textContent = pop.all.length ? "Nothing matches “" + query + "”." : "Nothing to choose yet.";
      pop.list.appendChild(none);
    }
    pop.items.forEach(function (item, index) {
      var option = document.createElement("li");
      option.setAttribute("role", "option");
      option.id = "picker-option-" + index;
      option.setAttribute("data-index", String(index));
      var title = document.createElement("strong");
      title.textContent = item.label;
      option.appendChild(title);
      if (item.detail) {
        var detail = document.createElement("span");
        detail.className = "picker-detail";
        detail.textContent = item.detail;
        option.appendChild(detail);
      }
      option.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the focus in the text box
        pick(index);
      });
      pop.list.appendChild(option);
    });
    highlight();
  }

  function highlight() {
    if (!pop) return;
    pop.list.querySelectorAll("[role=option]").forEach(function (option, index) {
      option.setAttribute("aria-selected", index === pop.active ? "true" : "false");
      if (index === pop.active) {
        (pop.search || pop.anchor).setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function pick(index) {
    if (!pop || !pop.items[index]) return;
    var chosen = pop.items[index];
    var onPick = pop.onPick;
    closePop();
    onPick(chosen);
  }

  function onPopKey(event) {
    if (!pop) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var step = event.key === "ArrowDown" ? 1 : -1;
      if (pop.items.length) pop.active = (pop.active + step + pop.items.length) % pop.items.length;
      highlight();
    } else if (event.key === "Enter" && !(event.ctrlKey || event.metaKey)) {
      if (!pop.items.length) return false;
      pick(pop.active);
    } else if (event.key === "Escape") {
      var back = pop.returnFocus;
      closePop();
      if (back) back.focus();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  // --- A token before the caret ("/ord", "@sa") ---------------------------------------------------------
  function tokenBefore(area, sign) {
    var before = area.value.slice(0, area.selectionStart);
    // "/" at the start or after a space, then what the agent searches (words, up to 40 characters).
    var pattern = sign === "/" ? /(^|\s)\/((?:[^\s/][^/\n]{0,39})?)$/ : /(^|\s)@([\w.\-]*)$/;
    var match = pattern.exec(before);
    if (!match) return null;
    return { start: before.length - match[2].length - 1, query: match[2] };
  }

  function replaceToken(area, token, text) {
    var end = area.selectionStart;
    area.value = area.value.slice(0, token.start) + text + area.value.slice(end);
    var caret = token.start + text.length;
    area.setSelectionRange(caret, caret);
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true })); // the draft is kept (inbox.js)
  }

  // --- Canned replies in the reply box --------------------------------------------------------------------
  function showMissing(area) {
    var note = area.form && area.form.querySelector("[data-canned-missing]");
    if (!note) return;
    var left = area.value.match(VARIABLE) || [];
    left = left.filter(function (v, i) {
      return left.indexOf(v) === i;
    });
    note.hidden = !left.length;
    note.textContent = left.length
      ? "Still to fill: " + left.join(", ") + " has no value for this customer. Replace it before sending."
      : "";
  }

  function cannedItems(url) {
    if (cannedCache[url]) return Promise.resolve(cannedCache[url]);
    return fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("canned replies: " + response.status);
        return response.json();
      })
      .then(function (data) {
        cannedCache[url] = data.replies.map(function (reply) {
          return {
            label: reply.title,
            detail: (reply.team ? "Team · " : "") + reply.text.slice(0, 90),
            search: reply.text,
            text: reply.text,
          };
        });
        return cannedCache[url];
      });
  }

  function onCannedInput(area) {
    var token = tokenBefore(area, "/");
    showMissing(area);
    if (!token) {
      if (pop && pop.anchor === area) closePop();
      return;
    }
    var url = area.getAttribute("data-canned-url");
    cannedItems(url).then(
      function (items) {
        var now = tokenBefore(area, "/");
        if (!now || document.activeElement !== area) return;
        if (!pop || pop.anchor !== area) {
          openPop(area, items, function (chosen) {
            var current = tokenBefore(area, "/");
            if (current) replaceToken(area, current, chosen.text);
            showMissing(area);
          }, { label: "Canned replies" });
        }
        filterPop(now.query);
      },
      function () {
        closePop();
      }
    );
  }

  // --- Mentions in the note box ---------------------------------------------------------------------------
  function onMentionInput(area) {
    var token = tokenBefore(area, "@");
    if (!token) {
      if (pop && pop.anchor === area) closePop();
      return;
    }
    if (!pop || pop.anchor !== area) {
      var people = JSON.parse(area.getAttribute("data-colleagues") || "[]").map(function (person) {
        return { label: person.name, detail: "@" + person.username, search: person.username, username: person.username };
      });
      openPop(area, people, function (chosen) {
        var current = tokenBefore(area, "@");
        if (current) replaceToken(area, current, "@" + chosen.username + " ");
      }, { label: "Colleagues" });
    }
    filterPop(token.query);
  }

  // --- "/" outside the window: the approved templates -----------------------------------------------------
  function templateOnlyCompose() {
    return document.querySelector('#compose[data-compose-mode="template-only"]');
  }

  function openTemplateSearch() {
    var choice = document.getElementById("template-choice");
    if (!choice) return;
    var details = choice.closest("details");
    if (details) details.open = true;
    var row = choice.closest(".picker-row") || choice;
    var items = [];
    Array.prototype.forEach.call(choice.options, function (option) {
      if (!option.value || option.disabled || option.hidden) return;
      items.push({ label: option.getAttribute("data-name") || option.textContent, detail: option.textContent, value: option.value });
    });
    openPop(row, items, function (chosen) {
      choice.value = chosen.value;
      // htmx asks the server for the template's fields, prefilled from contact attributes by name.
      choice.dispatchEvent(new Event("change", { bubbles: true }));
      choice.focus();
    }, { label: "Approved templates", search: "Search approved templates", returnFocus: choice });
  }

  function typingInAField(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // --- Wiring ---------------------------------------------------------------------------------------------
  function onInput(event) {
    var area = event.target;
    if (area.id === "compose-body" && area.hasAttribute("data-canned-url")) onCannedInput(area);
    else if (area.hasAttribute && area.hasAttribute("data-mention-input")) onMentionInput(area);
  }

  function onKeydown(event) {
    if (pop && (event.target === pop.anchor || event.target === pop.search)) {
      if (onPopKey(event)) return;
    }
    // "/" outside a text field, or on the template list itself: search the approved templates.
    var onChoice = event.target && event.target.id === "template-choice";
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && (onChoice || !typingInAField(event.target))) {
      if (templateOnlyCompose() && document.getElementById("template-choice")) {
        event.preventDefault();
        openTemplateSearch();
      }
    }
  }

  function onClick(event) {
    if (pop && !pop.box.contains(event.target) && event.target !== pop.anchor) closePop();
  }

  function start() {
    document.addEventListener("input", onInput);
    document.addEventListener("keydown", onKeydown, true); // before inbox.js's Ctrl+Enter
    document.addEventListener("click", onClick);
    document.addEventListener("focusin", function (event) {
      // Ask for the canned replies as the agent starts to write, so "/" lists them at once.
      var area = event.target;
      if (area.id === "compose-body" && area.hasAttribute("data-canned-url")) {
        cannedItems(area.getAttribute("data-canned-url")).catch(function () {});
      }
    });
    document.addEventListener("focusout", function (event) {
      if (pop && event.target === pop.anchor && !pop.search) setTimeout(function () {
        if (pop && document.activeElement !== pop.anchor) closePop();
      }, 150);
    });
    document.body.addEventListener("htmx:beforeSwap", function () {
      if (pop && !document.body.contains(pop.anchor)) closePop();
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var target = event.detail && event.detail.target;
      // A contact field changed: the canned replies' values are asked for again at the next "/".
      if (target && target.id && target.id.indexOf("attribute-") === 0) cannedCache = {};
      if (pop && !document.body.contains(pop.anchor)) pop = null;
      var area = document.getElementById("compose-body");
      if (area) showMissing(area);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
