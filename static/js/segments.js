// Segment builder: hide the no-JavaScript buttons, and point at the row a live-count
// error is about. Everything else is htmx attributes; the page also works without this.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function markErrorRow() {
    var error = document.querySelector("#live-count [data-error-row]");
    document.querySelectorAll("#builder .seg-live-error").forEach(function (row) {
      row.classList.remove("seg-live-error");
    });
    var path = error && error.getAttribute("data-error-row");
    if (!path) { return; }
    var row = document.querySelector('#builder [data-row="' + path + '"]');
    if (row) { row.classList.add("seg-live-error"); }
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && (target.id === "live-count" || target.id === "builder")) { markErrorRow(); }
  });
})();
