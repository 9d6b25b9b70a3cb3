// Passkeys on Warden's pages: the only part that needs JavaScript, since the
// browser's WebAuthn API has no form equivalent. Forms that use it are
// hidden until this script shows them, and post an ordinary form at the end
// so the server answers with a page, as for every other form.
//
// form[data-passkey-register]: adds a passkey. data-options-url is the JSON
//   API that opens a registration; the form posts its name, registration_id
//   and the credential.
// form[data-passkey-get]: answers with a passkey. The options are in
//   data-options (a login challenge) or come from data-options-url (a
//   step-up, {"method":"webauthn"}); the form posts the credential (and
//   challenge_id when the API gave one).
(function () {
  "use strict";

  var supported = window.PublicKeyCredential && navigator.credentials && window.fetch;

  function toBuffer(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeIDs(list) {
    (list || []).forEach(function (c) { c.id = toBuffer(c.id); });
  }

  // The PublicKeyCredential as JSON, the way the server reads it.
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toBase64url(r.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  function say(form, message) {
    var el = form.querySelector("[data-passkey-status]");
    if (el) {
      el.textContent = message;
      el.hidden = !message;
    }
  }

  function failed(form, err) {
    if (err && err.name === "NotAllowedError") {
      say(form, "The passkey request was cancelled or timed out. Try again.");
    } else if (err && err.name === "InvalidStateError") {
      say(form, "This device has a passkey for your account already.");
    } else {
      say(form, (err && err.message) || "Something went wrong with the passkey. Try again.");
    }
  }

  // postJSON asks the JSON API with the session cookie (same origin).
  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        return { status: resp.status, data: data };
      });
    });
  }

  function setField(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (input) {
      input.value = value;
    }
  }

  function enable(form, run) {
    if (!supported) {
      return;
    }
    form.hidden = false;
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = true; });
    var busy = false;
    form.addEventListener("submit", function (event) {
      if (form.dataset.ready === "1") {
        return; // the answer is in: post it
      }
      event.preventDefault();
      if (busy || (form.reportValidity && !form.reportValidity())) {
        return;
      }
      busy = true;
      say(form, "");
      run(form).then(function () {
        form.dataset.ready = "1";
        form.submit();
      }).catch(function (err) {
        failed(form, err);
      }).then(function () {
        busy = false;
      });
    });
  }

  document.querySelectorAll("form[data-passkey-register]").forEach(function (form) {
    enable(form, function () {
      return postJSON(form.getAttribute("data-options-url")).then(function (res) {
        if (res.status === 403 && res.data.code === "mfa_required") {
          window.location.assign(form.getAttribute("data-step-up"));
          return new Promise(function () {}); // leaving the page
        }
        if (res.status !== 200) {
          throw new Error(res.data.detail ? "Cannot add a passkey: " + res.data.detail + "." : "Cannot add a passkey now. Try again.");
        }
        var pk = res.data.options.publicKey;
        pk.challenge = toBuffer(pk.challenge);
        pk.user.id = toBuffer(pk.user.id);
        decodeIDs(pk.excludeCredentials);
        setField(form, "registration_id", res.data.registration_id);
        return navigator.credentials.create({ publicKey: pk });
      }).then(function (cred) {
        setField(form, "credential", credentialJSON(cred));
      });
    });
  });

  document.querySelectorAll("form[data-passkey-get]").forEach(function (form) {
    enable(form, function () {
      var options;
      var inline = form.getAttribute("data-options");
      if (inline) {
        options = Promise.resolve(JSON.parse(inline));
      } else {
        options = postJSON(form.getAttribute("data-options-url"), { method: "webauthn" }).then(function (res) {
          if (res.status !== 200) {
            throw new Error("Cannot use a passkey now. Try again, or use a code.");
          }
          setField(form, "challenge_id", res.data.challenge_id);
          return res.data.webauthn_options;
        });
      }
      return options.then(function (o) {
        var pk = o.publicKey;
        pk.challenge = toBuffer(pk.challenge);
        decodeIDs(pk.allowCredentials);
        return navigator.credentials.get({ publicKey: pk });
      }).then(function (cred) {
        setField(form, "credential", credentialJSON(cred));
      });
    });
  });
})();
