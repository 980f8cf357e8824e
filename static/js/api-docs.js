// /api/v1/docs: Swagger UI's headings skip a level (h1 title, then h3 per tag, h4 "Schemas").
// Tags and Schemas are sections of the page: level 2 for assistive technology (axe: heading-order).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root) return;
  function fix() {
    root.querySelectorAll("h3.opblock-tag, section.models > h4").forEach(function (heading) {
      if (heading.getAttribute("aria-level") !== "2") heading.setAttribute("aria-level", "2");
    });
  }
  new MutationObserver(fix).observe(root, { childList: true, subtree: true });
})();
