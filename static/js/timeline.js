// Timeline behaviour: the meeting attendee picker (a search result becomes a ticked
// attendee), and contact suggestions in the "reports to" and "referred by" inputs of the
// contact page. Forms work without it: attendees can be typed as emails.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function lastTokenRemoved(value) {
    var cut = Math.max(value.lastIndexOf(","), value.lastIndexOf(";"));
    return cut < 0 ? "" : value.slice(0, cut + 1) + " ";
  }

  // A search result clicked: add it as a ticked attendee (once), clear the search.
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest(".picker-option");
    if (!option) { return; }
    var picker = option.closest(".attendee-picker");
    if (!picker) { return; }
    event.preventDefault();
    var id = option.getAttribute("data-id");
    var chips = picker.querySelector(".chips");
    var existing = chips.querySelector('input[name="attendees"][value="' + id + '"]');
    if (existing) {
      existing.checked = true;
    } else {
      var label = document.createElement("label");
      label.className = "chip";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.name = "attendees";
      box.value = id;
      box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + option.getAttribute("data-label")));
      chips.appendChild(label);
    }
    var search = picker.querySelector('input[type="search"]');
    if (search) {
      search.value = lastTokenRemoved(search.value);
      search.focus();
    }
    picker.querySelector(".picker-results").innerHTML = "";
  });

  // Escape closes the list of results.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var picker = event.target.closest && event.target.closest(".attendee-picker");
    if (picker) { picker.querySelector(".picker-results").innerHTML = ""; }
  });

  // "Reports to" and "Referred by" take a contact's email: suggest contacts as you type.
  var counter = 0;
  function suggest(input, url) {
    if (input.getAttribute("data-suggest")) { return; }
    counter += 1;
    var list = document.createElement("datalist");
    list.id = "contact-suggestions-" + counter;
    input.after(list);
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    input.setAttribute("data-suggest", "on");
    var timer = null;
    var asked = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = input.value.trim();
        if (!text || text === asked) { return; }
        asked = text;
        fetch(url + "&q=" + encodeURIComponent(text), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) { if (asked === text) { list.innerHTML = html; } })
          .catch(function () { /* suggestions are optional */ });
      }, 200);
    });
  }

  function init(root) {
    var section = document.querySelector("[data-contact-search]");
    if (!section) { return; }
    var url = section.getAttribute("data-contact-search");
    var scope = root.querySelectorAll ? root : document;
    scope.querySelectorAll('input[name="reports_to"], input[name="referred_by"]').forEach(function (input) {
      suggest(input, url);
    });
  }

  if (window.htmx) {
    window.htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  }
})();
