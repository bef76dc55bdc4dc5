// Passkeys on the admin's second-factor pages (signin/mfa_pages.py), through the
// API's calls (signin/mfa_api.py), with the browser's WebAuthn JSON helpers.
"use strict";
(function () {
  function token() {
    const input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token() },
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      throw new Error(answer.error || "The passkey was not accepted.");
    }
    return answer;
  }

  async function register(button) {
    const options = await post("/api/auth/mfa/webauthn/register/options");
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
    });
    const name = (document.getElementById("passkey-name") || {}).value || "";
    const added = await post("/api/auth/mfa/webauthn/register", {
      name: name,
      credential: credential.toJSON(),
    });
    if (added.recovery_codes.length === 0) {
      window.location.assign(button.dataset.next);
      return;
    }
    // The first factor's recovery codes, shown this once.
    const list = document.getElementById("passkey-codes");
    list.replaceChildren(...added.recovery_codes.map(function (code) {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    }));
    list.hidden = false;
    return "Passkey added. Keep these recovery codes safe: they are not shown again.";
  }

  async function authenticate(button) {
    const options = await post("/api/auth/mfa/webauthn/authenticate/options");
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
    });
    await post("/api/auth/mfa/authenticate", { webauthn: credential.toJSON() });
    window.location.assign(button.dataset.next);
  }

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const status = document.getElementById("passkey-status");
      status.textContent = "";
      try {
        const step = button.dataset.passkey === "register" ? register : authenticate;
        const said = await step(button);
        if (said) { status.textContent = said; }
      } catch (error) {
        status.textContent = error.message || "The passkey was not accepted.";
      }
    });
  });
})();
