// Kontor's shared behaviour. No inline scripts anywhere: pages add their own files.
(function () {
  "use strict";
  // Flash messages fade after a while.
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll(".flash[data-autohide]").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 5000);
    });
  });
  // Elements with data-confirm ask before submitting a normal form.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);
})();
