// Labels' colours (issue 15): an admin picks a colour per label; the strict Content-Security-Policy
// allows no inline style attribute, so each chip carries its colour as data and this sets it through
// the CSSOM (which the policy allows), on load and after every htmx swap.
(function () {
  "use strict";
  var COLOUR = /^#[0-9a-fA-F]{6}$/;

  function paint(root) {
    (root || document).querySelectorAll("[data-label-colour]").forEach(function (chip) {
      var colour = chip.getAttribute("data-label-colour");
      if (COLOUR.test(colour)) chip.style.setProperty("--label-colour", colour);
    });
  }

  function start() {
    paint(document);
    document.body.addEventListener("htmx:afterSettle", function () {
      paint(document);
    });
    // The list's poll merges rows without htmx: watch for them.
    var list = document.querySelector(".list-pane");
    if (list && window.MutationObserver) {
      new MutationObserver(function () {
        paint(list);
      }).observe(list, { childList: true, subtree: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
