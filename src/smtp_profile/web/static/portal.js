// smtp-profile management page. Plain JavaScript, no dependencies.
// Talks to the JSON API (GET/PUT /KeyfactorAPI/SMTP, POST /KeyfactorAPI/SMTP/Test,
// GET /KeyfactorAPI/Audit) with the session cookie and the CSRF headers, in API version 2
// (secret objects, OAuth). Secrets are write-only fields (SmtpSecretFields below).
// Text from the server is only ever put into the page with textContent.
"use strict";

// ---------------------------------------------------------------- write-only secret fields
// A stored secret (password, client ID, client secret) is never shown or sent back:
// "Replace" opens an empty input, "Keep" closes it again and the stored one is used. A
// secret the service reads from a reference (an environment variable, a file or a
// command, set through the API) is described, and sent back unchanged unless replaced.
const SmtpSecretFields = (function () {
  const PROVIDERS = { 1: "environment variable", 2: "file", 3: "command" };

  function describe(ref) {
    const kind = PROVIDERS[ref.Provider] || "provider " + String(ref.Provider);
    const parameters = ref.Parameters && typeof ref.Parameters === "object" ? ref.Parameters : {};
    const target = parameters.Name || parameters.Path || "";
    return kind + (target ? " " + String(target) : "");
  }

  function isReference(object) {
    return Boolean(object && typeof object === "object"
      && object.Provider !== null && object.Provider !== undefined);
  }

  class SecretField {
    // name: the API field; prefix: the ids of its parts; noun: "password", "client ID", ...
    constructor(name, prefix, noun) {
      this.name = name;
      this.noun = noun;
      this.loaded = null;
      this.replacing = false;
      const byId = (suffix) => document.getElementById(prefix + "-" + suffix);
      this.input = document.getElementById(name);
      this.inputLabel = document.getElementById(name + "-label");
      this.error = document.getElementById(name + "-error");
      this.storedBox = byId("stored");
      this.storedText = byId("stored-text");
      this.replaceButton = byId("replace");
      this.entry = byId("entry");
      this.keepButton = byId("keep");
      this.label = byId("label");
      this.destinationNote = byId("destination-note");
    }

    load(object) {
      this.loaded = object && typeof object === "object" ? object : null;
      this.replacing = false;
      this.input.value = "";
    }

    get stored() { return this.loaded !== null; }

    get reference() { return isReference(this.loaded) ? this.loaded : null; }

    get open() { return !this.stored || this.replacing; }

    // What a save or a test sends: a typed value, the reference as loaded, or nothing
    // (then the server keeps the stored secret if the destination is unchanged).
    value() {
      if (this.open) {
        const text = this.input.value;
        return text === "" ? null : { SecretValue: text };
      }
      const ref = this.reference;
      return ref ? { SecretValue: null, Provider: ref.Provider, Parameters: ref.Parameters } : null;
    }

    refresh(destinationChanged) {
      const stored = this.stored;
      const open = this.open;
      const capital = this.noun.charAt(0).toUpperCase() + this.noun.slice(1);
      const ref = this.reference;
      this.storedText.textContent = ref
        ? "The " + this.noun + " comes from the " + describe(ref) + "."
        : "A " + this.noun + " is stored.";
      this.storedBox.hidden = !stored || this.replacing;
      this.entry.hidden = !open;
      this.keepButton.hidden = !stored || !this.replacing;
      this.inputLabel.textContent = stored ? "New " + this.noun : capital;
      this.label.hidden = open;
      this.destinationNote.hidden = !(stored && !this.replacing && destinationChanged);
    }

    // The caller refreshes the page before moving the focus (hidden parts take none).
    openInput() {
      this.replacing = true;
      this.input.value = "";
    }

    keep() {
      this.replacing = false;
      this.input.value = "";
      this.error.textContent = "";
      this.error.hidden = true;
    }
  }

  return { SecretField, describe, isReference };
})();

(function () {
  const API = "/KeyfactorAPI/SMTP";
  const TEST_API = "/KeyfactorAPI/SMTP/Test";
  const AUDIT_API = "/KeyfactorAPI/Audit?PageSize=10";
  const SESSION_API = "/portal/session";
  const STORED_PASSWORD_CODE = "0xA0100020";
  // Fields a server message may name, in the order they appear on the page.
  const ERROR_FIELDS = [
    "Host", "Port", "UseSSL", "RelayAuthenticationType", "RelayUsername",
    "RelayPassword", "ClientId", "ClientSecret", "TokenEndpoint", "Scope", "Audience",
    "SenderAccount", "SenderName", "TestRecipient",
  ];
  const EXPLICIT = 2;
  const INTEGRATED = 1;
  const OAUTH = 3;
  const API_VERSION = "2";
  const { SecretField, describe, isReference } = SmtpSecretFields;
  const secrets = {
    RelayPassword: new SecretField("RelayPassword", "password", "password"),
    ClientId: new SecretField("ClientId", "clientid", "client ID"),
    ClientSecret: new SecretField("ClientSecret", "clientsecret", "client secret"),
  };
  const OAUTH_SECRETS = ["ClientId", "ClientSecret"];

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : "";
  const mayWrite = body.dataset.mayWrite === "true";
  const implicitPorts = (body.dataset.implicitTlsPorts || "465")
    .split(",").map((p) => Number(p)).filter((p) => Number.isInteger(p));

  const form = $("profile-form");
  const fields = $("profile-fields");
  const saveButton = $("save");
  const testForm = $("test-form");
  const testButton = $("test-send");

  const state = {
    loaded: null,        // the profile as last read or saved
    etag: null,          // its ETag, sent as If-Match
    username: "",        // the stored user name (version 1 shows it; version 2 never does)
    saving: false,
    testing: false,
    confirmed: false,    // "Save anyway" was chosen for the current warnings
    ended: false,        // the session ended
  };

  // ---------------------------------------------------------------- HTTP

  async function call(method, url, payload, extraHeaders) {
    const headers = {
      "Accept": "application/json",
      "X-Keyfactor-Requested-With": "XMLHttpRequest",
      "X-CSRF-Token": csrfToken,
      "X-Keyfactor-Api-Version": API_VERSION,
    };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, extraHeaders || {});
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (err) {
      return { status: 0, ok: false, data: null, headers: new Headers() };
    }
    let data = null;
    if ((response.headers.get("Content-Type") || "").includes("json")) {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    if (response.status === 401) sessionEnded();
    return { status: response.status, ok: response.ok, data, headers: response.headers };
  }

  function messageOf(result, fallback) {
    if (result.status === 0) return "The service could not be reached. Check the connection and try again.";
    if (result.data && typeof result.data.Message === "string" && result.data.Message) {
      return result.data.Message;
    }
    return fallback + " (HTTP " + result.status + ")";
  }

  function sessionEnded() {
    if (state.ended) return;
    state.ended = true;
    const alert = $("page-alert");
    alert.className = "alert alert-error";
    alert.textContent = "";
    alert.append("Your session has ended. ");
    const link = document.createElement("a");
    link.href = "/portal/smtp";
    link.textContent = "Sign in again";
    alert.append(link, " (unsaved changes in the form are lost).");
    alert.hidden = false;
    if (saveButton) saveButton.disabled = true;
    if (testButton) testButton.disabled = true;
  }

  // ---------------------------------------------------------------- form values

  function radioValue() {
    const checked = form.querySelector('input[name="RelayAuthenticationType"]:checked');
    return checked ? Number(checked.value) : 0;
  }

  function textOrNull(id) {
    const value = $(id).value.trim();
    return value === "" ? null : value;
  }

  function formValues() {
    const values = {
      Host: textOrNull("Host"),
      Port: textOrNull("Port"),
      UseSSL: $("UseSSL").checked,
      RelayAuthenticationType: radioValue(),
      SenderAccount: textOrNull("SenderAccount"),
      SenderName: textOrNull("SenderName"),
    };
    const type = values.RelayAuthenticationType;
    if (type === EXPLICIT || type === OAUTH) values.RelayUsername = usernameValue();
    // Only a secret typed into an open input is ever sent; a closed one keeps the stored
    // secret (or sends its reference back unchanged).
    if (type === EXPLICIT) values.RelayPassword = secrets.RelayPassword.value();
    if (type === OAUTH) {
      for (const name of OAUTH_SECRETS) values[name] = secrets[name].value();
      values.TokenEndpoint = textOrNull("TokenEndpoint");
      values.Scope = textOrNull("Scope");
      values.Audience = textOrNull("Audience");
    }
    return values;
  }

  function usernameValue() {
    const typed = textOrNull("RelayUsername");
    if (typed !== null) return { SecretValue: typed };
    const loaded = state.loaded ? state.loaded.RelayUsername : null;
    return isReference(loaded) ? loaded : null;
  }

  function fillForm(profile) {
    $("Host").value = profile.Host || "";
    $("Port").value = profile.Port === null || profile.Port === undefined ? "" : String(profile.Port);
    $("UseSSL").checked = profile.UseSSL === true;
    const type = [0, 1, 2, 3].includes(profile.RelayAuthenticationType) ? profile.RelayAuthenticationType : 0;
    $("auth-" + type).checked = true;
    $("RelayUsername").value = state.username;
    const ref = isReference(profile.RelayUsername) ? profile.RelayUsername : null;
    $("RelayUsername-ref").textContent = ref
      ? "Now read from the " + describe(ref) + "; type a user name to replace it." : "";
    $("RelayUsername-ref").hidden = !ref;
    for (const name of ["TokenEndpoint", "Scope", "Audience"]) $(name).value = profile[name] || "";
    $("SenderAccount").value = profile.SenderAccount || "";
    $("SenderName").value = profile.SenderName || "";
    for (const name of Object.keys(secrets)) secrets[name].load(profile[name]);
    refresh();
  }

  // ---------------------------------------------------------------- what the page shows

  function hasStoredPassword() {
    return secrets.RelayPassword.stored;
  }

  function relayChanged() {
    const loaded = state.loaded;
    if (!loaded) return false;
    const host = ($("Host").value.trim() || "").toLowerCase();
    const port = $("Port").value.trim() || "25";
    return host !== String(loaded.Host || "").toLowerCase()
      || port !== String(loaded.Port === null || loaded.Port === undefined ? 25 : loaded.Port);
  }

  // What guards each stored secret (the server's rule): it is only used for an unchanged
  // Host and Port, and then user name, token endpoint or client ID.
  function destinationChanged() {
    return relayChanged() || $("RelayUsername").value.trim() !== state.username;
  }

  function tokenDestinationChanged() {
    const loaded = state.loaded;
    if (!loaded) return false;
    const endpoint = $("TokenEndpoint").value.trim();
    return relayChanged() || endpoint.toLowerCase() !== String(loaded.TokenEndpoint || "").toLowerCase();
  }

  function parsedPort() {
    const text = $("Port").value.trim();
    if (text === "") return 25;
    return /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  }

  function isLoopback(host) {
    const h = host.toLowerCase().replace(/^\[|\]$/g, "");
    return h === "localhost" || h.endsWith(".localhost") || /^127\./.test(h) || h === "::1";
  }

  function tlsExplanation(port, ssl) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return "Enter a port between 1 and 65535 to see how the connection will be made.";
    }
    if (!ssl) {
      return "SSL off: no encryption. The connection to port " + port + " stays plain text, "
        + "so the relay and anyone on the way can read the messages.";
    }
    if (implicitPorts.includes(port)) {
      return "Port " + port + " with SSL: TLS from the first byte (implicit TLS, \u201cSMTPS\u201d).";
    }
    return "Port " + port + " with SSL: the connection starts in plain text and switches to TLS "
      + "with STARTTLS. STARTTLS is required: if the relay does not offer it, the test fails "
      + "instead of continuing unencrypted.";
  }

  function mismatches(values) {
    const warnings = [];
    const port = parsedPort();
    if (implicitPorts.includes(port) && !values.UseSSL) {
      warnings.push("Port " + port + " expects TLS from the first byte, but Use SSL is off: "
        + "the relay will not understand the plain-text greeting. Turn Use SSL on, "
        + "or use port 587 or 25.");
    }
    if (values.RelayAuthenticationType === EXPLICIT && !values.UseSSL
        && values.Host && !isLoopback(values.Host)) {
      warnings.push("Explicit credentials without SSL: the password would cross the network "
        + "unencrypted, and the service refuses to send it unless the operator allowed "
        + "clear-text authentication. Turn Use SSL on.");
    }
    if (values.RelayAuthenticationType === OAUTH && !values.UseSSL
        && values.Host && !isLoopback(values.Host)) {
      warnings.push("OAuth without SSL: the token would cross the network unencrypted, and "
        + "the service refuses to send it unless the operator allowed clear-text "
        + "authentication. Turn Use SSL on.");
    }
    return warnings;
  }

  function refresh() {
    const type = radioValue();
    const explicit = type === EXPLICIT;
    const oauth = type === OAUTH;
    $("login-fields").hidden = !(explicit || oauth);
    $("explicit-fields").hidden = !explicit;
    $("oauth-fields").hidden = !oauth;
    $("RelayUsername-help").hidden = oauth;
    $("RelayUsername-oauth-help").hidden = !oauth;
    $("RelayUsername-label").textContent = oauth ? "Mailbox (user name)" : "User name";
    $("integrated-note").hidden = type !== INTEGRATED;
    $("password-erase-note").hidden = explicit || !hasStoredPassword();

    secrets.RelayPassword.refresh(explicit && destinationChanged());
    secrets.ClientId.refresh(oauth && tokenDestinationChanged());
    secrets.ClientSecret.refresh(oauth && (tokenDestinationChanged() || !secrets.ClientId.stored
      || secrets.ClientId.replacing));

    const values = formValues();
    $("tls-explain").textContent = tlsExplanation(parsedPort(), values.UseSSL);
    const warnings = mismatches(values);
    const list = $("tls-warnings");
    list.replaceChildren(...warnings.map((text) => element("li", text)));
    list.hidden = warnings.length === 0;
    state.confirmed = false;
    hideSaveWarnings();
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // ---------------------------------------------------------------- errors next to fields

  function clearErrors() {
    for (const name of ERROR_FIELDS) {
      const error = $(name + "-error");
      if (error) { error.textContent = ""; error.hidden = true; }
      const input = name === "RelayAuthenticationType" ? null : $(name);
      if (input) input.removeAttribute("aria-invalid");
    }
    setStatus($("form-status"), "", "");
  }

  // The server is the authority: its Message names the field by its PascalCase name.
  function fieldOf(data) {
    if (!data) return null;
    const message = String(data.Message || "");
    if (data.ErrorCode === STORED_PASSWORD_CODE) {
      const named = ["RelayUsername", "ClientId", "ClientSecret"].find((n) => message.startsWith(n));
      return named || "RelayPassword";
    }
    let best = null;
    let bestAt = Infinity;
    for (const name of ERROR_FIELDS) {
      const match = new RegExp("\\b" + name + "\\b").exec(message);
      if (match && match.index < bestAt) { best = name; bestAt = match.index; }
    }
    return best;
  }

  function showFieldError(data, fallbackStatus) {
    const name = fieldOf(data);
    const message = data && data.Message ? String(data.Message) : "The server refused the request.";
    const error = name ? $(name + "-error") : null;
    if (!error) {
      setStatus(fallbackStatus, message, "error");
      return;
    }
    if (secrets[name] && !secrets[name].open) openSecretInput(name, false);
    if (name === "RelayUsername") $("login-fields").hidden = false;
    if (name === "RelayPassword") $("explicit-fields").hidden = false;
    error.textContent = message;
    error.hidden = false;
    const input = name === "RelayAuthenticationType" ? $("auth-" + radioValue()) : $(name);
    if (input && name !== "RelayAuthenticationType") input.setAttribute("aria-invalid", "true");
    setStatus(fallbackStatus, "Not done: " + message, "error");
    if (input && !input.disabled) input.focus();
  }

  function setStatus(node, text, kind) {
    if (!node) return;
    node.textContent = text;
    node.classList.remove("ok", "error");
    if (kind) node.classList.add(kind);
  }

  // ---------------------------------------------------------------- password

  function openSecretInput(name, focus) {
    secrets[name].openInput();
    refresh();
    if (focus !== false) secrets[name].input.focus();
  }

  function keepStoredSecret(name) {
    secrets[name].keep();
    refresh();
    secrets[name].replaceButton.focus();
  }

  // ---------------------------------------------------------------- load and save

  async function loadProfile() {
    form.setAttribute("aria-busy", "true");
    fields.disabled = true;
    if (saveButton) saveButton.disabled = true;
    setStatus($("load-status"), "Loading the profile…", "");
    $("load-status").hidden = false;
    const result = await call("GET", API);
    const username = result.ok ? await storedUsername(result.data) : "";
    form.setAttribute("aria-busy", "false");
    if (!result.ok || !result.data) {
      setStatus($("load-status"), messageOf(result, "The profile could not be loaded"), "error");
      return;
    }
    state.loaded = result.data;
    state.username = username;
    state.etag = result.headers.get("ETag");
    clearErrors();
    fillForm(result.data);
    $("load-status").hidden = true;
    fields.disabled = !mayWrite;
    if (saveButton) saveButton.disabled = state.ended;
  }

  // Version 2 never returns a SecretValue, the user name's neither; version 1 always
  // showed a stored user name, so the page reads it there to show it in the form.
  async function storedUsername(profile) {
    const loaded = profile ? profile.RelayUsername : null;
    if (!loaded || isReference(loaded)) return "";
    const v1 = await call("GET", API, undefined, { "X-Keyfactor-Api-Version": "1" });
    return v1.ok && v1.data && typeof v1.data.RelayUsername === "string" ? v1.data.RelayUsername : "";
  }

  function showSaveWarnings(warnings) {
    const box = $("save-warnings");
    $("save-warnings-list").replaceChildren(...warnings.map((text) => element("li", text)));
    box.hidden = false;
    box.focus();
  }

  function hideSaveWarnings() {
    const box = $("save-warnings");
    if (box) box.hidden = true;
  }

  async function save() {
    if (!mayWrite || state.saving || state.ended) return;
    clearErrors();
    const values = formValues();
    const warnings = mismatches(values);
    if (warnings.length > 0 && !state.confirmed) {
      showSaveWarnings(warnings);
      return;
    }
    hideSaveWarnings();
    state.saving = true;
    saveButton.disabled = true;
    setStatus($("form-status"), "Saving…", "");
    const headers = state.etag ? { "If-Match": state.etag } : {};
    const result = await call("PUT", API, values, headers);
    state.saving = false;
    saveButton.disabled = state.ended;
    state.confirmed = false;
    if (result.ok && result.data) {
      state.loaded = result.data;
      const saved = result.data.RelayUsername;
      state.username = saved && !isReference(saved) ? textOrNull("RelayUsername") || state.username : "";
      state.etag = result.headers.get("ETag") || state.etag;
      fillForm(result.data);
      setStatus($("form-status"), "Saved.", "ok");
      loadHistory();
    } else if (result.status === 412) {
      showConflict();
    } else if (result.status === 400) {
      showFieldError(result.data, $("form-status"));
    } else {
      setStatus($("form-status"), "Not saved: " + messageOf(result, "The server refused the change"), "error");
    }
  }

  function showConflict() {
    const status = $("form-status");
    setStatus(status, "", "error");
    status.append("Not saved: someone else saved the profile meanwhile. Your changes are still "
      + "in the form; reload to see the current profile (this replaces your changes). ");
    const button = element("button", "Reload the current profile", "quiet");
    button.type = "button";
    button.addEventListener("click", () => { loadProfile().then(() => setStatus(status, "Reloaded.", "ok")); });
    status.append(button);
    button.focus();
  }

  // ---------------------------------------------------------------- test e-mail

  async function runTest() {
    if (!mayWrite || state.testing || state.ended) return;
    clearErrors();
    const values = formValues();
    values.TestRecipient = textOrNull("TestRecipient");
    state.testing = true;
    testButton.disabled = true;
    testButton.setAttribute("aria-busy", "true");
    $("test-progress").hidden = false;
    $("test-result").replaceChildren();
    const started = performance.now();
    let result;
    try {
      result = await call("POST", TEST_API, values);
    } finally {
      state.testing = false;
      testButton.disabled = state.ended;
      testButton.removeAttribute("aria-busy");
      $("test-progress").hidden = true;
    }
    const data = result.data;
    if (data && typeof data === "object" && ("Stage" in data || "Success" in data)) {
      renderTestResult(data, performance.now() - started);
      loadHistory();
    } else if (result.status === 400) {
      const box = element("div", null, "result result-fail");
      box.append(element("h3", "The test was not run"));
      box.append(element("p", "Fix the field marked above: " + messageOf(result, "invalid input")));
      $("test-result").replaceChildren(box);
      showFieldError(data, null);
    } else {
      const box = element("div", null, "result result-fail");
      box.append(element("h3", "The test was not run"));
      box.append(element("p", messageOf(result, "The server refused the test")));
      $("test-result").replaceChildren(box);
    }
  }

  function addRow(list, term, value) {
    if (value === null || value === undefined || value === "") return;
    list.append(element("dt", term), element("dd", String(value)));
  }

  function renderTestResult(data, elapsedMs) {
    const success = data.Success === true;
    const box = element("div", null, "result " + (success ? "result-ok" : "result-fail"));
    box.id = "test-outcome";
    box.dataset.outcome = success ? "success" : "failure";
    const stage = data.Stage ? String(data.Stage) : "unknown";
    box.append(element("h3", success
      ? "Test e-mail sent: the relay accepted the message"
      : "Test failed at step \u201c" + stage + "\u201d"));
    if (!success && data.Message) box.append(element("p", String(data.Message)));
    const list = element("dl");
    if (success) addRow(list, "Recipient", data.TestRecipient);
    if (!success) addRow(list, "Failing step", stage);
    const reply = [data.SmtpCode, data.SmtpMessage].filter((v) => v !== null && v !== undefined && v !== "");
    addRow(list, "Server reply", reply.length ? reply.join(" ") : (success ? null : "none (no SMTP reply)"));
    addRow(list, "Connected to", data.ConnectedAddress);
    const tls = data.Tls && typeof data.Tls === "object" ? data.Tls : null;
    if (tls) {
      const parts = [tls.Version, tls.Cipher].filter(Boolean).join(", ");
      addRow(list, "TLS", parts + (tls.Verified === false ? " (certificate NOT verified)" : ""));
    }
    const duration = Number.isFinite(Number(data.DurationMs)) ? Number(data.DurationMs) : Math.round(elapsedMs);
    addRow(list, "Duration", duration + " ms");
    box.append(list);
    if (data.Hint) {
      const hint = element("p", null, "hint");
      hint.append(element("strong", "Hint: "), String(data.Hint));
      box.append(hint);
    }
    const lines = Array.isArray(data.Transcript) ? data.Transcript.map((l) => String(l)) : [];
    if (lines.length > 0) {
      const details = element("details");
      details.append(element("summary", "Transcript (" + lines.length + " lines)"));
      details.append(element("pre", lines.join("\n"), "transcript"));
      box.append(details);
    }
    $("test-result").replaceChildren(box);
  }

  // ---------------------------------------------------------------- history

  function asText(value) {
    if (value === null || value === undefined) return "\u2014";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length > 200 ? text.slice(0, 199) + "\u2026" : text;
  }

  function formatTime(iso) {
    const date = new Date(String(iso));
    return Number.isNaN(date.getTime()) ? asText(iso) : date.toLocaleString();
  }

  const OPERATION_LABELS = { put: "Saved", test: "Test", denied: "Denied" };

  function historyItem(item) {
    if (!item || typeof item !== "object") return null;
    const li = element("li");
    const head = element("div", null, "head");
    const time = element("time", formatTime(item.Time));
    if (typeof item.Time === "string") time.dateTime = item.Time;
    const operation = typeof item.Operation === "string" ? item.Operation : "event";
    const op = element("span", OPERATION_LABELS[operation] || operation,
      "op op-" + operation.replace(/[^a-z]/gi, ""));
    head.append(time, op);
    if (item.Outcome !== null && item.Outcome !== undefined) head.append(element("span", asText(item.Outcome)));
    li.append(head);
    const who = "by " + (item.User ? asText(item.User) : "unknown user")
      + (item.ClientAddress ? " from " + asText(item.ClientAddress) : "");
    li.append(element("div", who, "who"));
    if (Array.isArray(item.Changes) && item.Changes.length > 0) {
      const changes = element("ul", null, "changes");
      for (const change of item.Changes.slice(0, 20)) {
        if (!change || typeof change !== "object") continue;
        changes.append(element("li", asText(change.Field) + ": " + asText(change.Before)
          + " \u2192 " + asText(change.After)));
      }
      li.append(changes);
    }
    if (item.Detail) li.append(element("p", asText(item.Detail), "detail"));
    return li;
  }

  async function loadHistory() {
    const section = $("history");
    const result = await call("GET", AUDIT_API);
    if (result.status === 404) { section.hidden = true; return; }
    section.hidden = false;
    const status = $("history-status");
    const data = result.data;
    if (!result.ok || !data || !Array.isArray(data.Items)) {
      $("history-list").replaceChildren();
      setStatus(status, "The history could not be loaded: " + messageOf(result, "unexpected answer"), "error");
      return;
    }
    const items = data.Items.map(historyItem).filter(Boolean);
    $("history-list").replaceChildren(...items);
    const total = Number.isInteger(data.Total) ? data.Total : items.length;
    setStatus(status, items.length === 0 ? "Nothing recorded yet."
      : "The latest " + items.length + " of " + total + " recorded events.", "");
  }

  // ---------------------------------------------------------------- sign-out

  async function signOut() {
    await call("DELETE", SESSION_API);
    window.location.assign("/portal/smtp");
  }

  // ---------------------------------------------------------------- wiring

  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  $("reload").addEventListener("click", () => {
    clearErrors();
    loadProfile().then(() => setStatus($("form-status"), state.loaded ? "Reloaded." : "", "ok"));
  });
  for (const name of Object.keys(secrets)) {
    secrets[name].replaceButton.addEventListener("click", () => openSecretInput(name, true));
    secrets[name].keepButton.addEventListener("click", () => keepStoredSecret(name));
  }
  $("sign-out").addEventListener("click", signOut);
  $("history-refresh").addEventListener("click", loadHistory);
  if (mayWrite) {
    $("save-anyway").addEventListener("click", () => { state.confirmed = true; save(); });
    $("save-cancel").addEventListener("click", () => {
      hideSaveWarnings();
      $("UseSSL").focus();
    });
    testForm.addEventListener("submit", (event) => { event.preventDefault(); runTest(); });
  }

  const expires = $("session-expires");
  if (expires) expires.textContent = formatTime(expires.getAttribute("datetime"));

  loadProfile();
  loadHistory();
})();
