/* Tables wider than the screen scroll inside their .table-scroll box: such a box is made reachable
   with the keyboard (tabindex) and named after the table's caption, so that it can be scrolled with
   the arrow keys. Boxes that do not scroll stay out of the tab order. */
(function () {
  "use strict";
  function refresh() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        var caption = box.querySelector("caption");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption ? caption.textContent.trim() : document.title);
      } else if (!scrolls && box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  refresh();
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  });
})();
