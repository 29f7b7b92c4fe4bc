// The candidate's clock. The server says how many seconds are left; the page counts down from
// that with the browser's monotonic clock and asks the server again every 5 seconds, so a
// wrong or changed computer clock never moves the deadline.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var clock = live.querySelector("[data-testid=clock]");
  var busy = live.querySelector("[data-testid=busy]");
  var message = live.querySelector("[data-testid=status-message]");
  var status = live.dataset.status;
  var remaining = live.dataset.remaining === "" ? null : parseFloat(live.dataset.remaining);
  var anchor = performance.now();

  function format(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m));
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    if (remaining === null) { return; }
    var left = remaining - (performance.now() - anchor) / 1000;
    clock.textContent = format(left);
    clock.classList.toggle("low", left < 300);
  }

  function poll() {
    fetch(live.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        if (s.status !== status || (s.busy === null) !== busy.hidden) {
          window.location.reload();  // the page's content changes with the status
          return;
        }
        remaining = s.remaining_s;
        anchor = performance.now();
        message.textContent = s.message;
        if (s.busy) { busy.textContent = s.busy + "…"; }
      })
      .catch(function () { /* offline for a moment: keep counting */ });
  }

  tick();
  setInterval(tick, 250);
  setInterval(poll, 5000);
})();
