// Import wizard: show the "Opted In" warning as soon as the default consent status says so.
(function () {
  "use strict";
  function update() {
    var select = document.querySelector("select[data-warn]");
    var warning = document.getElementById("opted-in-warning");
    if (!select || !warning) { return; }
    var on = warning.hasAttribute("data-always") || select.value === select.getAttribute("data-warn");
    warning.classList.toggle("hidden", !on);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-warn]")) { update(); }
  });
  document.addEventListener("DOMContentLoaded", update);
})();
