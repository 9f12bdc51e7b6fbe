// Lead scoring rule form: hide the no-JavaScript "Update the form" button (htmx
// rebuilds the form's fields when its shape changes). The page works without this.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
})();
