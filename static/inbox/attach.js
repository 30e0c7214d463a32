// Support Inbox: attaching a file to a reply (issue 14). The agent picks a file (the "Attach a file"
// button) or drops it onto the compose area; the reply box becomes its optional caption. The file stays
// through a re-render of the compose area (the customer wrote); if the window closes, it is named as not
// sent. The platform's type and size limits (data-attach-limits, from whatsapp.media_types) are checked
// here at once so a refused file says why before anything is uploaded, and the typed caption stays. The
// server decides: it checks the file's bytes again whatever this said. Loaded as a static file: the
// strict CSP holds.
(function () {
  "use strict";

  var MB = 1024 * 1024;
  var NOUNS = { image: "photo", video: "video", audio: "recording", document: "document" };

  function limitsOf(form) {
    try {
      return JSON.parse(form.getAttribute("data-attach-limits") || "{}");
    } catch (e) {
      return {};
    }
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot).toLowerCase();
  }

  // Why the platform would not take this file, in plain words; "" when it would.
  function refusal(file, limits) {
    if (!file.size) return "“" + file.name + "” is empty.";
    var types = limits.types || {};
    var extensions = limits.extensions || {};
    var type = (file.type || "").toLowerCase();
    var known = types[type] ? type : extensions[extensionOf(file.name)];
    if (!known || !types[known]) {
      return (
        "“" + file.name + "” cannot be sent on WhatsApp: send a photo (JPEG or PNG), a video (MP4), " +
        "a recording, or a document (PDF, Word, Excel, PowerPoint or text)."
      );
    }
    var kind = types[known][0];
    var limit = types[known][1];
    if (file.size > limit) {
      return (
        "“" + file.name + "” is " + (file.size / MB).toFixed(1) + " MB; WhatsApp takes a " + NOUNS[kind] +
        " of at most " + Math.round(limit / MB) + " MB. Choose a smaller file."
      );
    }
    return "";
  }

  function parts(form) {
    return {
      input: form.querySelector("[data-attach-input]"),
      chosen: form.querySelector("[data-attach-chosen]"),
      name: form.querySelector("[data-attach-name]"),
      refused: form.querySelector("[data-attach-refused]"),
      body: form.querySelector("textarea[name=body]"),
    };
  }

  // Show the chosen file (or none), and make the reply box a caption while a file goes with it.
  function show(form) {
    var p = parts(form);
    var file = p.input && p.input.files && p.input.files[0];
    p.chosen.hidden = !file;
    p.name.textContent = file ? file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)" : "";
    if (p.body) {
      p.body.required = !file;
      p.body.placeholder = file ? "Add a caption (optional)…" : "Write a reply…";
    }
  }

  function refuse(form, text) {
    var p = parts(form);
    p.refused.textContent = text;
    p.refused.hidden = !text;
  }

  // A file from the picker or a drop: kept when the platform would take it, else refused with why (the
  // caption typed so far stays where it is).
  function choose(form, files) {
    var p = parts(form);
    var file = files && files[0];
    if (!file || !p.input) return;
    var why = refusal(file, limitsOf(form));
    if (why) {
      p.input.value = "";
      refuse(form, why);
    } else {
      if (p.input.files !== files) {
        var transfer = new DataTransfer();
        transfer.items.add(file);
        p.input.files = transfer.files;
      }
      refuse(form, "");
    }
    show(form);
  }

  function composeForm(target) {
    var compose = target && target.closest && target.closest("#compose");
    return compose && compose.querySelector("form.free-form[data-attach-limits]");
  }

  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
  }

  // The server re-renders the compose area when the window changes under the agent (the customer wrote,
  // or the countdown reached zero: static/inbox/inbox.js). The typed text goes along as a draft; the
  // picked file goes along here, since no server can render a file into a form. Only across those
  // re-renders (a GET of the same customer's compose area): after a send, the area starts empty.
  var carried = null;

  function notSent(compose, file) {
    var note = document.createElement("p");
    note.className = "file-not-sent";
    note.setAttribute("role", "status");
    note.textContent =
      "“" + file.name + "” was not sent: the window closed, and only a template reaches the customer now. " +
      "Attach it again when they write.";
    compose.insertBefore(note, compose.firstChild);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "compose") return;
    var config = event.detail.requestConfig;
    var input = target.querySelector("[data-attach-input]");
    var file = input && input.files && input.files[0];
    var rerender = !!file && !!config && config.verb === "get";
    carried = rerender ? { file: file, customer: target.getAttribute("data-customer") } : null;
  });

  document.addEventListener("htmx:afterSwap", function () {
    var item = carried;
    carried = null;
    var compose = document.getElementById("compose");
    if (!item || !compose || compose.getAttribute("data-customer") !== item.customer) return;
    var form = compose.querySelector("form.free-form[data-attach-limits]");
    if (form) choose(form, [item.file]);
    else notSent(compose, item.file);
  });

  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-attach-input]")) return;
    choose(event.target.form, event.target.files);
  });

  document.addEventListener("click", function (event) {
    var remove = event.target.closest && event.target.closest("[data-attach-remove]");
    if (!remove) return;
    var form = remove.closest("form");
    parts(form).input.value = "";
    refuse(form, "");
    show(form);
    parts(form).body.focus();
  });

  document.addEventListener("dragover", function (event) {
    var form = composeForm(event.target);
    if (!form || !hasFiles(event)) return;
    event.preventDefault(); // a drop here attaches the file instead of opening it in the tab
    event.dataTransfer.dropEffect = "copy";
    form.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var form = composeForm(event.target);
    if (form && !form.contains(event.relatedTarget)) form.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var form = composeForm(event.target);
    if (!form || !hasFiles(event)) return;
    event.preventDefault();
    form.classList.remove("drop-target");
    choose(form, event.dataTransfer.files);
  });
})();
