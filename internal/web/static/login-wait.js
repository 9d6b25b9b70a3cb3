// The page of a login that waits for the new-device email's link: every few
// seconds it asks the server whether the link was followed, and goes on by
// itself once it was. Without this script the page refreshes itself, and
// its button asks at once.
//
// <section data-login-wait="/login/challenge/email" data-next="/account">
//   <p data-wait-status>…</p> <form data-wait-form>…</form>
// </section>
//
// The server answers {"state": "waiting" | "confirmed" | "done", "location"}:
// "confirmed" when the second factor is still to be given on this page,
// "done" to go to location (logged in, or the login expired).
(function () {
  "use strict";

  var box = document.querySelector("[data-login-wait]");
  if (!box || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var url = box.getAttribute("data-login-wait");
  var next = box.getAttribute("data-next") || "";
  var status = box.querySelector("[data-wait-status]");
  var form = box.querySelector("[data-wait-form]");
  var every = 2000;
  var finished = false;
  var timer = 0;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(check, ms);
  }

  function check() {
    if (finished) {
      return;
    }
    var body = new URLSearchParams();
    if (next) {
      body.set("next", next);
    }
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      body: body
    }).then(function (res) {
      if (!res.ok) {
        throw new Error("status " + res.status);
      }
      return res.json();
    }).then(function (answer) {
      switch (answer.state) {
      case "waiting":
        later(every);
        return;
      case "confirmed":
        finished = true;
        say("This device is confirmed. Give your second factor below to finish.");
        if (form) {
          form.hidden = true;
        }
        return;
      default:
        finished = true;
        say("Confirmed. Logging you in…");
        window.location.assign(answer.location || window.location.href);
      }
    }).catch(function () {
      // The server or the network had a hiccup: ask again, less often.
      later(every * 3);
    });
  }

  later(every);
  // Back on this tab after clicking the link elsewhere: ask at once.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !finished) {
      later(0);
    }
  });
})();
