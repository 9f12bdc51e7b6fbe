// Duplicates pages: mark the kept record's column and the chosen value of each differing
// field, so the side-by-side table reads at a glance. The pages work without this.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function refresh(form) {
    var table = form.querySelector(".dedupe-compare");
    if (!table) { return; }
    var survivor = form.querySelector('input[name="survivor"]:checked');
    if (survivor) { table.setAttribute("data-survivor", survivor.value); }
    table.querySelectorAll("td.side").forEach(function (cell) {
      var radio = cell.querySelector('input[type="radio"]');
      cell.classList.toggle("chosen", Boolean(radio && radio.checked));
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("#merge-form");
    if (form) { refresh(form); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("merge-form");
    if (form) { refresh(form); }
  });
})();
