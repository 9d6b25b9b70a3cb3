// Warden's small progressive enhancements. Every page works without them.
// Inline scripts are forbidden by the Content-Security-Policy, so page
// behaviour lives here and is switched on by data- attributes.
(function () {
  "use strict";

  // [data-autofocus]: the first error of a form, or its error summary. The
  // autofocus attribute does this without script; this catches browsers
  // that ignore it on elements other than inputs.
  var first = document.querySelector("[data-autofocus]");
  if (first && document.activeElement !== first) {
    first.focus();
  }

  // <time datetime="…" data-local>: show the reader's local time as a tooltip.
  document.querySelectorAll("time[datetime][data-local]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d.getTime())) {
      el.title = d.toLocaleString();
    }
  });

  // <button type="button" data-copy="#id" hidden>Copy</button>: copies the
  // text of the element named by the selector. Hidden until this script runs,
  // since it cannot work without it.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    if (!navigator.clipboard) {
      return;
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var target = document.querySelector(btn.getAttribute("data-copy"));
      if (!target) {
        return;
      }
      var label = btn.textContent;
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = label; }, 1500);
      });
    });
  });
})();
