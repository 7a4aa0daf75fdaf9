/* The demo's status lines follow the visitor's choice without a reload: consentgate announces
 * every change with a "consentgate:change" event (its detail: decided, granted, services). A
 * status element names its category in data-status and carries both wordings. */
(function () {
  "use strict";
  document.addEventListener("consentgate:change", function (e) {
    var granted = e.detail.granted || [];
    var lines = document.querySelectorAll("[data-status]");
    for (var i = 0; i < lines.length; i++) {
      var on = granted.indexOf(lines[i].getAttribute("data-status")) >= 0;
      lines[i].textContent = lines[i].getAttribute(on ? "data-granted" : "data-refused");
      lines[i].className = on ? "ok" : "no";
    }
  });
})();
