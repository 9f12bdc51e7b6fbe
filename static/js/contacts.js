// Contact list and contact page behaviour: selection for bulk actions, the bulk
// action inputs, and tidy bookmarkable URLs. Everything also works without it.
(function () {
  "use strict";

  function rowBoxes(root) {
    return Array.prototype.slice.call(
      (root || document).querySelectorAll('input[type=checkbox][name=ids][form="bulk-form"]'));
  }

  function updateSelection() {
    var label = document.querySelector("#bulk-form .selected-count");
    if (!label) { return; }
    var matching = document.querySelector("#bulk-form .select-matching");
    var n = rowBoxes().filter(function (box) { return box.checked; }).length;
    var total = document.getElementById("match-count");
    if (matching && matching.checked && total && total.textContent.trim()) {
      n = total.textContent.trim();
    }
    label.textContent = n ? label.getAttribute("data-template").replace("{n}", n) : "";
  }

  function showBulkParams(form) {
    var select = form.querySelector(".bulk-action");
    if (!select) { return; }
    form.querySelectorAll(".bulk-param").forEach(function (input) {
      var wanted = (input.getAttribute("data-for") || "").split(" ");
      input.classList.toggle("hidden", wanted.indexOf(select.value) < 0);
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList.contains("select-page")) {
      rowBoxes().forEach(function (box) { box.checked = target.checked; });
      if (!target.checked) {
        var matching = document.querySelector("#bulk-form .select-matching");
        if (matching) { matching.checked = false; }
      }
    } else if (target.classList.contains("select-matching")) {
      if (target.checked) {
        rowBoxes().forEach(function (box) { box.checked = true; });
        var page = document.querySelector(".select-page");
        if (page) { page.checked = true; }
      }
    } else if (target.name === "ids" && !target.checked) {
      document.querySelectorAll(".select-page, #bulk-form .select-matching").forEach(function (box) {
        box.checked = false;
      });
    } else if (target.classList.contains("bulk-action")) {
      showBulkParams(target.form);
    }
    updateSelection();
  });

  // "Cancel" in the bulk delete confirmation just closes it.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-dismiss]");
    if (!link) { return; }
    var box = document.getElementById(link.getAttribute("data-dismiss"));
    if (box) {
      event.preventDefault();
      box.innerHTML = "";
    }
  });

  // Leave empty filter fields out of list requests, so pushed URLs stay short.
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (detail.verb !== "get" || !detail.formData) { return; }
    var keys = [];
    detail.formData.forEach(function (value, key) { keys.push(key); });
    keys.forEach(function (key) {
      var values = detail.formData.getAll(key);
      if (values.every(function (v) { return v === ""; })) { detail.formData.delete(key); }
    });
  });

  // Export of "Selected contacts": the ticked rows belong to the bulk form, so copy them
  // into the export form; with "all matching" ticked, export the filter's result instead.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "export-form") { return; }
    form.querySelectorAll("input[type=hidden][name=ids]").forEach(function (input) { input.remove(); });
    var scope = form.querySelector("input[name=scope]:checked");
    if (!scope || scope.value !== "selection") { return; }
    var matching = document.querySelector("#bulk-form .select-matching");
    if (matching && matching.checked) {
      var whole = form.querySelector("input[name=scope][value=filter]") ||
        form.querySelector("input[name=scope][value=all]");
      if (whole) { whole.checked = true; return; }
    }
    rowBoxes().filter(function (box) { return box.checked; }).forEach(function (box) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "ids";
      input.value = box.value;
      form.appendChild(input);
    });
  });

  function init(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("#bulk-form").forEach(showBulkParams);
    if (root.id === "bulk-form") { showBulkParams(root); }
    updateSelection();
  }

  if (window.htmx) {
    window.htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  }
})();
