/* Live gap (actual − planned, in € and %) of the annual financial report (no dependency). */
(function () {
  "use strict";
  var table = document.getElementById("evaluation-budget");
  if (!table) { return; }
  function cents(value) {
    var text = (value || "").replace(/[\s\u00a0\u202f€]/g, "");
    if (text.indexOf(",") !== -1) { text = text.replace(/\./g, "").replace(",", "."); }
    if (text === "" || isNaN(Number(text))) { return null; }
    return Math.round(Number(text) * 100);
  }
  function euros(c) {
    return (c / 100).toLocaleString("fr-FR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function update(row) {
    var input = row.querySelector("input[data-planned]");
    var amount = row.querySelector("[data-gap='amount']");
    var percent = row.querySelector("[data-gap='percent']");
    if (!input || !amount || !percent) { return; }
    var planned = Math.round(Number(input.dataset.planned) * 100);
    var actual = cents(input.value);
    if (actual === null) { amount.textContent = ""; percent.textContent = ""; return; }
    var gap = actual - planned;
    amount.textContent = euros(gap);
    amount.className = "num" + (gap < 0 ? " gap-negative" : gap > 0 ? " gap-positive" : "");
    percent.textContent = planned ? (gap * 100 / planned).toLocaleString("fr-FR", { maximumFractionDigits: 1 }) + " %" : "—";
  }
  table.querySelectorAll("tbody tr").forEach(function (row) {
    update(row);
    row.addEventListener("input", function () { update(row); });
  });
})();
