/* Forms (no dependency): the error summary takes the focus so that it is read first (its links put
   the focus in their field), and a long
   list of checkboxes (core.forms.CheckboxList) gets a search field that hides the options that do
   not match (accents and case ignored). Without JavaScript the whole list stays visible. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    // A link of the summary puts the keyboard in its field, not only the page's scroll.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      event.preventDefault();
      field.scrollIntoView({ block: "center" });
      field.focus();
    });
  }

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }
  var MIN_OPTIONS = 8;
  document.querySelectorAll(".checkbox-list[data-filter-label]").forEach(function (list, n) {
    var items = list.querySelectorAll(".checkbox-item");
    if (items.length < MIN_OPTIONS) { return; }
    var id = (list.id || "checkbox-list-" + n) + "-filter";
    var label = document.createElement("label");
    label.htmlFor = id;
    label.className = "checkbox-filter-label";
    label.textContent = list.dataset.filterLabel;
    var input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.autocomplete = "off";
    input.setAttribute("aria-controls", list.id || "");
    var empty = document.createElement("p");
    empty.className = "muted";
    empty.hidden = true;
    empty.setAttribute("role", "status");
    empty.textContent = list.dataset.filterEmpty;
    input.addEventListener("input", function () {
      var wanted = fold(input.value), shown = 0;
      items.forEach(function (item) {
        var box = item.querySelector("input");
        var match = !wanted || fold(item.textContent).indexOf(wanted) !== -1 || (box && box.checked);
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      empty.hidden = shown !== 0;
    });
    // Enter in the search field must not submit the form.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
    list.parentNode.insertBefore(label, list);
    list.parentNode.insertBefore(input, list);
    list.parentNode.insertBefore(empty, list.nextSibling);
  });
})();
