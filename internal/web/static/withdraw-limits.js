// The withdraw form's live limit display: as the amount is typed, it shows
// what the amount is worth in the reference currency and what it leaves of
// the limits per withdrawal and in 24 hours, and warns when it is above
// them. It never stops the form: the server values the withdrawal again
// and decides. Without this script (or without BigInt) the box stays
// hidden and the limits the server wrote above the form are what is shown.
//
// <div data-limit-estimate hidden data-asset="BTC" data-asset-decimals="8"
//      data-currency="USD" data-currency-decimals="2"
//      data-per-transaction="1000.00" data-rolling-24h="2000.00" data-available="500.00"
//      data-price="60000" data-price-as-of="…" data-price-fresh-for="600">
//   <p data-estimate-value></p>
//   <li data-estimate-per-transaction></li> <li data-estimate-rolling></li>
//   <p id="estimate-price">…</p>
// </div>
//
// data-price is absent when the server has no fresh price; it stays usable
// for data-price-fresh-for seconds. Amounts are exact: integers of the
// smallest unit in BigInt, the value rounded up as the server rounds it.
(function () {
  "use strict";

  var box = document.querySelector("[data-limit-estimate]");
  if (!box || typeof window.BigInt !== "function") {
    return;
  }
  var form = box.closest("form");
  var input = form && form.querySelector('input[name="amount"]');
  if (!input) {
    return;
  }
  var ZERO = BigInt(0);
  var ONE = BigInt(1);
  var TEN = BigInt(10);

  function pow10(n) {
    var r = ONE;
    for (var i = 0; i < n; i++) {
      r *= TEN;
    }
    return r;
  }

  // parse reads a plain decimal ("0.015") with at most decimals fraction
  // digits into the smallest unit, as money.ParseUnits does; null when it
  // is not one.
  function parse(s, decimals) {
    var m = /^(0|[1-9][0-9]{0,29})(?:\.([0-9]+))?$/.exec(s);
    if (!m || (m[2] || "").length > decimals) {
      return null;
    }
    var frac = m[2] || "";
    while (frac.length < decimals) {
      frac += "0";
    }
    return BigInt(m[1] + frac);
  }

  // format writes an amount of the smallest unit with its decimals, as
  // money.Format does: "1250.00".
  function format(v, decimals) {
    var s = v.toString();
    while (s.length <= decimals) {
      s = "0" + s;
    }
    return decimals === 0 ? s : s.slice(0, s.length - decimals) + "." + s.slice(s.length - decimals);
  }

  function attr(name) {
    return box.getAttribute(name) || "";
  }

  var asset = attr("data-asset");
  var assetDecimals = parseInt(attr("data-asset-decimals"), 10);
  var currency = attr("data-currency");
  var cd = parseInt(attr("data-currency-decimals"), 10);
  var perTransaction = parse(attr("data-per-transaction"), cd);
  var available = parse(attr("data-available"), cd);
  var rolling = parse(attr("data-rolling-24h"), cd);
  if (isNaN(assetDecimals) || isNaN(cd) || perTransaction === null || available === null || rolling === null) {
    return;
  }
  // The price as a fraction: price = priceDigits / 10^priceScale.
  var priceText = attr("data-price");
  var priceScale = (priceText.split(".")[1] || "").length;
  var priceDigits = priceText ? parse(priceText, priceScale) : null;
  var clock = window.performance && performance.now ? function () { return performance.now(); } : Date.now;
  var freshUntil = clock() + (parseInt(attr("data-price-fresh-for"), 10) || 0) * 1000;

  var valueLine = box.querySelector("[data-estimate-value]");
  var perLine = box.querySelector("[data-estimate-per-transaction]");
  var rollingLine = box.querySelector("[data-estimate-rolling]");
  var priceLine = box.querySelector("#estimate-price");

  function money(v) {
    return format(v, cd) + " " + currency;
  }

  // value is what units of the asset are worth in the currency's smallest
  // unit at the price, rounded up: withdrawal.Value.
  function value(units) {
    var num = units * priceDigits * pow10(cd);
    var den = pow10(assetDecimals + priceScale);
    var q = num / den;
    return num % den === ZERO ? q : q + ONE;
  }

  function line(el, text, over) {
    el.textContent = text;
    if (over) {
      el.setAttribute("data-over", "true");
    } else {
      el.removeAttribute("data-over");
    }
  }

  // limitsOnly says the limits without a value to weigh against them.
  function limitsOnly() {
    line(perLine, "Up to " + money(perTransaction) + " a withdrawal.", false);
    line(rollingLine, money(available) + " left of your 24-hour limit of " + money(rolling) + ".", false);
  }

  function show(state, text) {
    box.setAttribute("data-state", state);
    box.classList.toggle("warning", state === "over");
    box.classList.toggle("info", state !== "over");
    valueLine.textContent = text;
  }

  function update() {
    var typed = input.value.trim();
    var units = typed === "" ? null : parse(typed, assetDecimals);
    if (typed === "") {
      limitsOnly();
      show("empty", "Type an amount to see what it is worth and what it leaves of your limits.");
      return;
    }
    if (units === null) {
      limitsOnly();
      show("invalid", "Type the amount as digits with a point, up to " + assetDecimals + " decimals, such as 0.015.");
      return;
    }
    if (units === ZERO) {
      limitsOnly();
      show("invalid", "The amount must be more than 0.");
      return;
    }
    if (priceDigits === null || clock() > freshUntil) {
      if (priceDigits !== null && priceLine) {
        priceLine.textContent = "The price we have for " + asset + " is out of date, so the value is not shown; it is worked out when you send the form.";
      }
      limitsOnly();
      show("no-price", "");
      return;
    }
    var v = value(units);
    var overPer = v > perTransaction;
    var overRolling = v > available;
    if (overPer) {
      line(perLine, "Above your limit of " + money(perTransaction) + " a withdrawal, by " + money(v - perTransaction) + ".", true);
    } else {
      line(perLine, "Within your limit of " + money(perTransaction) + " a withdrawal: " + money(perTransaction - v) + " to spare.", false);
    }
    if (overRolling) {
      line(rollingLine, "Above what is left of your 24-hour limit, " + money(available) + ", by " + money(v - available) + ".", true);
    } else {
      line(rollingLine, "Leaves " + money(available - v) + " of your 24-hour limit (" + money(available) + " left now).", false);
    }
    var worth = typed + " " + asset + " is worth " + money(v) + ".";
    if (overPer || overRolling) {
      show("over", worth + " That is more than your limits allow, so it would be refused: lower the amount.");
    } else {
      show("ok", worth);
    }
  }

  input.addEventListener("input", update);
  input.addEventListener("change", update);
  box.hidden = false;
  update();
})();
