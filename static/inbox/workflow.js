// Support Inbox: the thread's status (issue 15). The server decides every change (inbox.workflow_views);
// this only lets the agent put away the "resolve anyway?" warning without resolving.
(function () {
  "use strict";

  function onClick(event) {
    var keep = event.target.closest && event.target.closest("[data-dismiss-warning]");
    if (!keep) return;
    var warning = keep.closest(".resolve-warning");
    if (warning) warning.remove();
  }

  document.addEventListener("click", onClick);
})();
