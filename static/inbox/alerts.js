// Support Inbox: alerts (issue 15). The server tells facts in the customer list's poll (the list's
// data-alerts, inbox.selectors.Alerts): how many threads assigned to the agent or unassigned have
// messages the agent has not read, the latest of them with the instant of their latest message, and the
// agent's own unanswered threads whose window closes within the next hours. This file only turns them
// into a count in the page title, an optional sound (WebAudio, no file) and a browser notification (asked
// only when the agent presses the button), once per event: a new customer message, or an assigned window
// closing within N minutes with no reply (N chosen by the agent, default 30). Settings stay in this
// browser (localStorage). Loaded as a static file: the strict CSP holds.
(function () {
  "use strict";

  var SOUND_KEY = "inbox-alerts:sound";
  var LEAD_KEY = "inbox-alerts:lead-minutes";
  var DONE_KEY = "inbox-alerts:notified";
  var DEFAULT_LEAD = 30;
  var MAX_LEAD = 240; // inbox.selectors.ALERT_CLOSING_WITHIN
  var KEEP = 300; // events remembered (notified once, across reloads and tabs)
  var TITLE_COUNT = /^\(\d+\+?\) /;

  function stored(key, fallback) {
    try {
      var value = localStorage.getItem(key);
      return value === null ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }

  function store(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (e) {
      /* storage disabled: the setting lasts while the page is open */
    }
  }

  function leadMinutes() {
    var n = parseInt(stored(LEAD_KEY, String(DEFAULT_LEAD)), 10);
    return isNaN(n) || n < 1 ? DEFAULT_LEAD : Math.min(n, MAX_LEAD);
  }

  // --- Events already notified: once each, whichever tab saw it first ---------------------------------
  function notified() {
    try {
      return JSON.parse(stored(DONE_KEY, "[]")) || [];
    } catch (e) {
      return [];
    }
  }

  function firstTime(key) {
    var done = notified();
    if (done.indexOf(key) >= 0) return false;
    done.push(key);
    store(DONE_KEY, JSON.stringify(done.slice(-KEEP)));
    return true;
  }

  // --- Sound: a short two-tone chime made with WebAudio -------------------------------------------------
  var audio = null;
  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }

  function chime() {
    if (stored(SOUND_KEY, "off") !== "on") return;
    var context = audioContext();
    if (!context) return;
    [880, 660].forEach(function (frequency, i) {
      var start = context.currentTime + i * 0.18;
      var tone = context.createOscillator();
      var gain = context.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
      tone.connect(gain).connect(context.destination);
      tone.start(start);
      tone.stop(start + 0.17);
    });
  }

  // --- Browser notifications: only with the agent's permission, asked by a button ----------------------
  function canNotify() {
    return "Notification" in window && Notification.permission === "granted";
  }

  function notify(title, body, customerId) {
    chime();
    if (!canNotify()) return;
    try {
      var shown = new Notification(title, { body: body, tag: "inbox-" + customerId + "-" + title });
      shown.onclick = function () {
        window.focus();
        location.href = "/customers/" + customerId + "/";
      };
    } catch (e) {
      /* some browsers only notify from a service worker: the title count still tells */
    }
  }

  function showPermission() {
    var state = document.querySelector("[data-alert-permission-state]");
    var button = document.querySelector("[data-alert-permission]");
    if (!state || !button) return;
    if (!("Notification" in window)) {
      state.textContent = "This browser cannot show notifications.";
      button.hidden = true;
      return;
    }
    var permission = Notification.permission;
    button.hidden = permission !== "default";
    state.textContent =
      permission === "granted" ? "Browser notifications are on." :
      permission === "denied" ? "Notifications are blocked in this browser's site settings." : "";
  }

  // --- Facts from the list's poll -----------------------------------------------------------------------
  var lastFacts = null;
  var baseline = true; // the messages already there when the page loaded are not news

  function facts() {
    var list = document.getElementById("customer-list");
    var raw = list && list.getAttribute("data-alerts");
    if (!raw) return null;
    try {
      return JSON.parse(raw);
    } catch (e) {
      return null;
    }
  }

  function showCount(unread) {
    var base = document.title.replace(TITLE_COUNT, "");
    var label = unread > 99 ? "99+" : String(unread);
    var wanted = unread > 0 ? "(" + label + ") " + base : base;
    if (document.title !== wanted) document.title = wanted;
  }

  function openCustomer() {
    var workspace = document.getElementById("workspace");
    return workspace ? workspace.getAttribute("data-customer") || "" : "";
  }

  function check() {
    var now = facts();
    if (!now) return;
    showCount(now.unread || 0);
    var raw = JSON.stringify(now.new || []);
    if (raw !== lastFacts) {
      lastFacts = raw;
      (now.new || []).forEach(function (item) {
        var key = "new:" + item[0] + ":" + item[2];
        if (baseline) {
          firstTime(key);
          return;
        }
        // The agent is reading this very thread: it is not news.
        if (String(item[0]) === openCustomer() && document.hasFocus()) {
          firstTime(key);
          return;
        }
        if (firstTime(key)) notify("New message from " + item[1], "A customer wrote in a thread of yours or nobody's.", item[0]);
      });
      baseline = false;
    }
    var lead = leadMinutes() * 60000;
    var clock = Date.now();
    (now.closing || []).forEach(function (item) {
      var closes = Date.parse(item[2]);
      if (isNaN(closes) || closes <= clock || closes - clock > lead) return;
      var minutes = Math.max(1, Math.round((closes - clock) / 60000));
      if (firstTime("closing:" + item[0] + ":" + item[2])) {
        notify(
          "Window closing: " + item[1],
          "No reply yet, and the window closes in " + minutes + " min: after that only a template reaches them.",
          item[0]
        );
      }
    });
  }

  // --- Settings -----------------------------------------------------------------------------------------
  function setUp() {
    var sound = document.querySelector("[data-alert-sound]");
    var lead = document.querySelector("[data-alert-lead]");
    var ask = document.querySelector("[data-alert-permission]");
    if (sound) {
      sound.checked = stored(SOUND_KEY, "off") === "on";
      sound.addEventListener("change", function () {
        store(SOUND_KEY, sound.checked ? "on" : "off");
        if (sound.checked) {
          audioContext(); // a click: the browser lets the page play sound from now on
          chime();
        }
      });
    }
    if (lead) {
      lead.value = String(leadMinutes());
      lead.addEventListener("change", function () {
        var n = parseInt(lead.value, 10);
        if (isNaN(n) || n < 1) n = DEFAULT_LEAD;
        n = Math.min(n, MAX_LEAD);
        lead.value = String(n);
        store(LEAD_KEY, String(n));
        check();
      });
    }
    if (ask) {
      ask.addEventListener("click", function () {
        if (!("Notification" in window)) return;
        var asked = Notification.requestPermission(showPermission);
        if (asked && asked.then) asked.then(showPermission);
      });
    }
    showPermission();
    // A sound needs a click on the page first (the browser's rule): the next click anywhere allows it.
    document.addEventListener(
      "click",
      function () {
        if (stored(SOUND_KEY, "off") === "on") audioContext();
      },
      { once: true }
    );
  }

  function start() {
    if (!document.getElementById("customer-list")) return;
    setUp();
    check();
    setInterval(check, 2000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
