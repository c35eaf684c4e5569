/* Live totals of the CERFA budget on the application form (no dependency). */
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
  function sum(side) {
    var total = 0;
    form.querySelectorAll("#budget-" + side + " tbody tr").forEach(function (row) {
      var amount = row.querySelector("input[name$='-amount']");
      var account = row.querySelector("select[name$='-account']");
      if (amount && account && account.value) { total += cents(amount.value); }
    });
    return total;
  }
  function subsidies() {
    var total = 0;
    form.querySelectorAll("#budget-products tbody tr").forEach(function (row) {
      var amount = row.querySelector("input[name$='-amount']");
      var account = row.querySelector("select[name$='-account']");
      if (amount && account && account.value === "74") { total += cents(amount.value); }
    });
    return total;
  }
  function update() {
    var charges = sum("charges"), products = sum("products");
    var status = document.getElementById("budget-status");
    document.getElementById("budget-total-charges").textContent = euros(charges);
    document.getElementById("budget-total-products").textContent = euros(products);
    document.getElementById("budget-total-subsidies").textContent = euros(subsidies());
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
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
