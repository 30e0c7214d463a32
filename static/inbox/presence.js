// Who else is on this thread (inbox/presence.py). The thread header polls #presence every few seconds
// with #presence-typing: "1" while the agent typed in the reply box within the last few seconds. The
// first key after a pause asks at once, so a colleague sees "typing" without waiting for the next poll.
(function () {
  "use strict";
  var TYPING_FOR = 6000;  // as inbox.presence.TYPING_FOR
  var ASK_AT_MOST_EVERY = 3000;
  var typedAt = 0;
  var askedAt = 0;
  var idle = null;

  function flag(value) {
    var input = document.getElementById("presence-typing");
    if (input) input.value = value;
  }

  function askNow() {
    var line = document.getElementById("presence");
    if (!line || !window.htmx || Date.now() - askedAt < ASK_AT_MOST_EVERY) return;
    askedAt = Date.now();
    window.htmx.trigger(line, "presence-now");
  }

  document.addEventListener("input", function (event) {
    if (!event.target || event.target.id !== "compose-body") return;
    var wasIdle = Date.now() - typedAt >= TYPING_FOR;
    typedAt = Date.now();
    flag(event.target.value.trim() ? "1" : "");
    if (wasIdle && event.target.value.trim()) askNow();
    clearTimeout(idle);
    idle = setTimeout(function () { flag(""); }, TYPING_FOR);
  });

  // A sent reply is no longer being typed.
  document.body && document.body.addEventListener("message-sent", function () {
    typedAt = 0;
    flag("");
  });
})();
