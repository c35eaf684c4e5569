/* The CERFA budget on the application form (no dependency): lines added and removed in place, live
   totals. Without JavaScript « Ajouter une ligne » submits the form and « Supprimer » is a checkbox
   applied on save; with it, a line is cloned from the side's <template> (the formset's empty form,
   TOTAL_FORMS updated) and « Supprimer » hides the line (its box stays ticked, so it is deleted on save). */
(function () {
  "use strict";
  var form = document.getElementById("application-form");
  if (!form) { return; }
  function cents(value) {
    var text = (value || "").replace(/[\s\u00a0\u202f€]/g, "").replace(",", ".");
    if (text === "" || isNaN(Number(text))) { return 0; }
    return Math.round(Number(text) * 100);
  }
  function euros(c) {
    return (c / 100).toLocaleString("fr-FR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function liveRows(side) {
    return Array.prototype.filter.call(
      form.querySelectorAll("#budget-" + side + " tbody tr"),
      function (row) {
        var del = row.querySelector("input[name$='-DELETE']");
        return !(del && del.checked);
      }
    );
  }
  function sum(side, onlyAccount) {
    var total = 0;
    liveRows(side).forEach(function (row) {
      var amount = row.querySelector("input[name$='-amount']");
      var account = row.querySelector("select[name$='-account']");
      if (amount && account && account.value && (!onlyAccount || account.value === onlyAccount)) {
        total += cents(amount.value);
      }
    });
    return total;
  }
  function update() {
    var charges = sum("charges"), products = sum("products");
    var status = document.getElementById("budget-status");
    document.getElementById("budget-total-charges").textContent = euros(charges);
    document.getElementById("budget-total-products").textContent = euros(products);
    document.getElementById("budget-total-subsidies").textContent = euros(sum("products", "74"));
    if (charges === 0) {
      status.textContent = status.dataset.empty;
      status.className = "budget-ko";
    } else if (charges === products) {
      status.textContent = status.dataset.ok;
      status.className = "budget-ok";
    } else {
      status.textContent = status.dataset.ko + " " + euros(products - charges) + " €";
      status.className = "budget-ko";
    }
  }
  function enhanceDelete(row) {
    var box = row.querySelector("input[name$='-DELETE']");
    if (!box || row.querySelector(".budget-remove")) { return; }
    var cell = box.parentNode;
    var label = cell.querySelector("label");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small budget-remove";
    button.textContent = label ? label.textContent.trim() : "×";
    button.addEventListener("click", function () {
      var table = row.closest("table");
      var add = form.querySelector(".budget-add[data-side='" + table.dataset.prefix + "']");
      box.checked = true;
      row.hidden = true;
      update();
      if (add) { add.focus(); }
    });
    box.hidden = true;
    if (label) { label.hidden = true; }
    cell.appendChild(button);
  }
  function addLine(side) {
    var total = form.querySelector("#id_" + side + "-TOTAL_FORMS");
    var max = form.querySelector("#id_" + side + "-MAX_NUM_FORMS");
    var template = document.getElementById("budget-" + side + "-empty");
    var index = Number(total.value);
    if (max && index >= Number(max.value)) { return; }
    var html = template.innerHTML.replace(/__prefix__/g, String(index)).replace(/__num__/g, String(index + 1));
    var tbody = form.querySelector("#budget-" + side + " tbody");
    tbody.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var row = tbody.lastElementChild;
    enhanceDelete(row);
    row.querySelector("select, input").focus();
    update();
  }
  form.querySelectorAll(".budget-add").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      addLine(button.dataset.side);
    });
  });
  form.querySelectorAll(".budget-line").forEach(enhanceDelete);
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
