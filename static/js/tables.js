/* Tables wider than the screen scroll inside their .table-scroll box: such a box is made reachable
   with the keyboard (tabindex), so that it can be scrolled with the arrow keys. Boxes that do not scroll stay out of the tab order. */
(function () {
  "use strict";
  function refresh() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
      } else if (!scrolls && box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
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
