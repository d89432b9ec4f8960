// The invoice editor, progressively enhanced: lines are added and removed here without a round trip, and the
// totals follow what is typed. The server computes the totals again on save; without this script the buttons post
// the form and the server does the same.
(function () {
  "use strict";

  var form = document.querySelector("[data-editor]");
  if (!form) {
    return;
  }
  var linesBox = form.querySelector("[data-lines]");
  var template = form.querySelector("[data-line-template]");
  var totalsTable = form.querySelector("[data-totals]");
  var lang = (totalsTable && totalsTable.getAttribute("data-lang")) || document.documentElement.lang || "fr";
  var vatLabel = (totalsTable && totalsTable.getAttribute("data-vat-label")) || "VAT";
  var nextKey = 1000;

  // Exact decimals as integers scaled by 10^scale (BigInt), like the server's rust_decimal: no float rounding.
  function parseScaled(text, scale) {
    var cleaned = String(text || "").replace(/[\s\u00a0\u202f%]/g, "").replace(",", ".");
    if (!/^\d+(\.\d+)?$/.test(cleaned)) {
      return null;
    }
    var parts = cleaned.split(".");
    var fraction = parts[1] || "";
    if (fraction.length > scale) {
      return null;
    }
    while (fraction.length < scale) {
      fraction += "0";
    }
    return BigInt(parts[0] + fraction);
  }

  // value / 10^digits rounded half away from zero (values are never negative here).
  function roundDiv(value, digits) {
    var divisor = BigInt(10) ** BigInt(digits);
    return (value + divisor / BigInt(2)) / divisor;
  }

  function currency() {
    var input = form.querySelector("[name=currency]");
    var code = input && input.value.trim().toUpperCase();
    return /^[A-Z]{3}$/.test(code || "") ? code : "EUR";
  }

  function formatCents(cents) {
    var value = Number(cents) / 100;
    try {
      return new Intl.NumberFormat(lang === "fr" ? "fr-FR" : "en-GB", {
        style: "currency",
        currency: currency(),
      }).format(value);
    } catch (error) {
      return value.toFixed(2) + " " + currency();
    }
  }

  function formatRate(rateText) {
    var shown = lang === "fr" ? rateText.replace(".", ",") : rateText;
    return shown + "\u00a0%";
  }

  function recompute() {
    var groups = {};
    var order = [];
    var totalExcl = BigInt(0);
    form.querySelectorAll("[data-line]").forEach(function (line) {
      var quantity = parseScaled(line.querySelector("[data-quantity]").value, 5);
      var price = parseScaled(line.querySelector("[data-unit-price]").value, 5);
      var rateSelect = line.querySelector("[data-vat-rate]");
      var rate = parseScaled(rateSelect.value, 2);
      var exemptionField = line.querySelector("[data-exemption-field]");
      var exemption = line.querySelector("[data-exemption]");
      var zero = rate !== null && rate === BigInt(0);
      if (exemptionField) {
        exemptionField.hidden = !zero;
      }
      var netBox = line.querySelector("[data-line-net]");
      if (quantity === null || price === null || rate === null || quantity === BigInt(0)) {
        netBox.textContent = "";
        return;
      }
      // quantity × price carries 10 decimals: round to cents.
      var net = roundDiv(quantity * price, 8);
      netBox.textContent = formatCents(net);
      totalExcl += net;
      var reason = zero && exemption && exemption.value ? exemption.value : "";
      var key = rateSelect.value + "|" + reason;
      if (!groups[key]) {
        groups[key] = {
          rate: rate,
          rateText: rateSelect.value,
          reasonText: reason ? exemption.options[exemption.selectedIndex].text : "",
          base: BigInt(0),
        };
        order.push(key);
      }
      groups[key].base += net;
    });
    order.sort(function (a, b) {
      var difference = groups[b].rate - groups[a].rate;
      return difference > 0 ? 1 : difference < 0 ? -1 : 0;
    });
    var body = totalsTable.querySelector("[data-vat-groups]");
    body.textContent = "";
    var totalVat = BigInt(0);
    order.forEach(function (key) {
      var group = groups[key];
      // base (cents) × rate (2 decimals) / 100 %: 4 decimals to drop.
      var vat = roundDiv(group.base * group.rate, 4);
      totalVat += vat;
      var row = document.createElement("tr");
      var label = vatLabel + " " + formatRate(group.rateText) + (group.reasonText ? " · " + group.reasonText : "");
      [label, formatCents(group.base), formatCents(vat)].forEach(function (text) {
        var cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    totalsTable.querySelector("[data-total-excl]").textContent = formatCents(totalExcl);
    totalsTable.querySelector("[data-total-vat]").textContent = formatCents(totalVat);
    var strong = document.createElement("strong");
    strong.textContent = formatCents(totalExcl + totalVat);
    var incl = totalsTable.querySelector("[data-total-incl]");
    incl.textContent = "";
    incl.appendChild(strong);
  }

  function renumber() {
    form.querySelectorAll("[data-line]").forEach(function (line, index) {
      var legend = line.querySelector("legend");
      if (legend) {
        legend.textContent = legend.textContent.replace(/\d+\s*$/, String(index + 1));
      }
      var remove = line.querySelector("[data-remove-line]");
      if (remove) {
        remove.textContent = remove.textContent.replace(/\d+\s*$/, String(index + 1));
      }
    });
  }

  function addLine() {
    var key = String(nextKey++);
    var html = template.innerHTML.split("__KEY__").join(key).split("__POSITION__").join("0");
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var line = holder.querySelector("[data-line]");
    linesBox.appendChild(line);
    renumber();
    recompute();
    var first = line.querySelector("input");
    if (first) {
      first.focus();
    }
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button)) {
      return;
    }
    if (button.hasAttribute("data-add-line") && template && linesBox) {
      event.preventDefault();
      addLine();
    } else if (button.hasAttribute("data-remove-line")) {
      var line = button.closest("[data-line]");
      if (line && form.querySelectorAll("[data-line]").length > 1) {
        event.preventDefault();
        line.remove();
        renumber();
        recompute();
      }
      // Removing the last line is left to the server, which gives back an empty one.
    }
  });

  // Screen readers hear the new total once typing pauses, not a table at every keystroke.
  var announceTimer = null;
  function announceTotal() {
    var region = form.querySelector("[data-total-announce]");
    if (!region || !totalsTable) {
      return;
    }
    if (announceTimer) {
      window.clearTimeout(announceTimer);
    }
    announceTimer = window.setTimeout(function () {
      announceTimer = null;
      var row = totalsTable.querySelector("[data-total-incl]").parentNode;
      var label = row.querySelector("th").textContent.trim();
      region.textContent = label + " " + totalsTable.querySelector("[data-total-incl]").textContent.trim();
    }, 1000);
  }

  // Choosing a customer does not submit the form (arrow keys change a select's value one step at a time, and
  // a submit would move the focus away): the "use this customer" button, next to the list, fills the buyer.
  form.addEventListener("input", function (event) {
    if (event.target.matches("[data-customer-select]")) {
      return;
    }
    recompute();
    announceTotal();
  });
  form.addEventListener("change", function (event) {
    if (event.target.matches("[data-customer-select]")) {
      return;
    }
    recompute();
    announceTotal();
  });
  recompute();
})();
