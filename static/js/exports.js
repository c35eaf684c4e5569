/* Export page: « Monter » / « Descendre » buttons reorder the columns; the checked boxes are sent
   in the page's order, which is the file's order. Without JavaScript the list keeps its order. */
(function () {
  "use strict";
  var list = document.querySelector("ol.export-columns");
  if (!list) { return; }
  var status = document.getElementById("columns-status");
  function labelOf(item) { return item.querySelector("label").textContent.trim(); }
  function announce(item) {
    if (!status) { return; }
    var position = Array.prototype.indexOf.call(list.children, item) + 1;
    status.textContent = labelOf(item) + " : " + list.dataset.moved + " " + position;
  }
  function button(text, name, item) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small";
    b.textContent = text;
    b.setAttribute("aria-label", text + " : " + labelOf(item));
    b.dataset.move = name;
    return b;
  }
  Array.prototype.forEach.call(list.children, function (item) {
    item.appendChild(document.createTextNode(" "));
    item.appendChild(button(list.dataset.up, "up", item));
    item.appendChild(document.createTextNode(" "));
    item.appendChild(button(list.dataset.down, "down", item));
  });
  list.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-move]");
    if (!b) { return; }
    var item = b.closest("li");
    if (b.dataset.move === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (b.dataset.move === "down" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    } else {
      return;
    }
    b.focus();
    announce(item);
  });
}());
