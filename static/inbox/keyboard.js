// Keyboard shortcuts on the inbox page (issue 15, item 8). A key never acts while the agent types in a
// field, or with Ctrl/Alt/Cmd held. j / k open the next / previous customer of the list; r goes to the
// reply box (or, outside the window, to the template picker); other keys press the button of the open
// thread that carries data-shortcut="<key>" (a for "Assign to me", e for Resolve, s for Snooze…), so a
// shortcut can only do what a visible button does, with the same server checks. ? shows them all.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable='true'], dialog[open]"));
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#customer-list li.row > a"));
  }

  function openRow(step) {
    var links = rows();
    if (!links.length) return;
    var current = links.findIndex(function (link) { return link.getAttribute("aria-current") === "page"; });
    var next = current === -1 ? (step > 0 ? 0 : links.length - 1) : current + step;
    if (next < 0 || next >= links.length) return;
    links[next].focus();
    links[next].click();
  }

  function toReply() {
    var box = document.getElementById("compose-body") || document.getElementById("template-choice");
    if (box) box.focus();
  }

  function press(key) {
    var button = document.querySelector("#workspace [data-shortcut='" + key + "']");
    if (!button || button.disabled) return false;
    button.focus();
    button.click();
    return true;
  }

  function help() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) return;
    if (event.key === "Escape" && event.target && event.target.id === "compose-body") {
      event.target.blur();  // out of the reply box, so that the shortcuts work again
      return;
    }
    if (typing(event.target)) return;
    var handled = true;
    if (event.key === "j") openRow(1);
    else if (event.key === "k") openRow(-1);
    else if (event.key === "r") toReply();
    else if (event.key === "?") help();
    else handled = /^[a-z]$/.test(event.key) && press(event.key);
    if (handled) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-shortcuts-open]");
    if (opener) help();
    var closer = event.target.closest && event.target.closest("[data-shortcuts-close]");
    if (closer) closer.closest("dialog").close();
  });
})();
