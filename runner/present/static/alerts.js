// The candidate's pager. While the page is visible it asks the server every second for the
// open alert of the candidate's run (/candidate/alerts) and shows it as a banner fixed on top:
// red with an Acknowledge button while it is new, amber once acknowledged, gone once the
// alert resolves. It runs on the candidate page and inside JupyterLab (the lab proxy adds this
// script to JupyterLab's pages), so it lives in a shadow root with inline styles: neither
// page's CSS reaches it, and it needs no <style> element a strict policy could refuse.
(function () {
  "use strict";
  var URL = "/candidate/alerts";
  var host = document.createElement("div");
  host.id = "pp-alert";
  host.setAttribute("data-testid", "alert-host");
  var root = host.attachShadow({ mode: "open" });
  var banner = el("div", {
    position: "fixed", top: "0", left: "0", right: "0", zIndex: "2147483647",
    display: "none", alignItems: "center", gap: "1rem", flexWrap: "wrap",
    padding: "0.6rem 1rem", font: "600 14px/1.4 system-ui, sans-serif",
    boxShadow: "0 2px 8px rgba(0,0,0,0.35)", boxSizing: "border-box"
  });
  banner.setAttribute("role", "alert");
  banner.setAttribute("data-testid", "alert-banner");
  var title = el("strong", { fontSize: "15px", letterSpacing: "0.03em" });
  var when = el("span", { fontWeight: "400" });
  when.setAttribute("data-testid", "alert-time");
  var symptom = el("span", { flex: "1 1 20rem", fontWeight: "400" });
  symptom.setAttribute("data-testid", "alert-symptom");
  var button = el("button", {
    font: "inherit", padding: "0.3rem 0.9rem", border: "2px solid #fff", borderRadius: "4px",
    background: "#fff", color: "#b00020", cursor: "pointer"
  });
  button.type = "button";
  button.textContent = "Acknowledge";
  button.setAttribute("data-testid", "alert-ack");
  [title, when, symptom, button].forEach(function (part) { banner.appendChild(part); });
  root.appendChild(banner);

  var current = null, csrf = null, anchor = 0;

  function el(tag, style) {
    var made = document.createElement(tag);
    Object.keys(style).forEach(function (key) { made.style[key] = style[key]; });
    return made;
  }

  function clock(unix) {
    return new Date(unix * 1000).toLocaleTimeString();
  }

  function render() {
    if (!current) {
      banner.style.display = "none";
      banner.removeAttribute("data-alert-id");
      return;
    }
    var acked = current.acknowledged_at !== null;
    var ago = Math.floor(current.age_s + (performance.now() - anchor) / 1000);
    banner.style.display = "flex";
    banner.setAttribute("data-alert-id", current.id);
    banner.setAttribute("data-state", acked ? "acknowledged" : "firing");
    banner.style.background = acked ? "#f0a500" : "#b00020";
    banner.style.color = acked ? "#1a1a1a" : "#fff";
    title.textContent = acked ? "Alert acknowledged" : "ALERT: production is failing";
    when.textContent = "fired " + clock(current.fired_at) + " (" + ago + " s ago)" +
      (acked ? " · acknowledged at " + clock(current.acknowledged_at) : "");
    symptom.textContent = current.symptom;
    button.style.display = acked ? "none" : "";
  }

  function show(answer) {
    if (!answer) { return; }
    current = answer.alert;
    csrf = answer.csrf;
    anchor = performance.now();
    render();
  }

  function poll() {
    if (document.hidden) { return; }
    fetch(URL, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(show)
      .catch(function () { /* offline for a moment: ask again next second */ });
  }

  button.addEventListener("click", function () {
    if (!current || !csrf) { return; }
    button.disabled = true;
    fetch(URL + "/" + encodeURIComponent(current.id) + "/ack", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRF-Token": csrf }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(show)
      .catch(function () { /* the next poll shows what the server knows */ })
      .then(function () { button.disabled = false; poll(); });
  });

  function start() {
    (document.body || document.documentElement).appendChild(host);
    poll();
    setInterval(function () { poll(); render(); }, 1000);
    document.addEventListener("visibilitychange", poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
