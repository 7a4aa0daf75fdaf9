// A stand-in for a real analytics tag: reports each page view to the demo's own /collect.
// consentgate ships it as type="text/plain" until the visitor grants "analytical".
(function () {
  "use strict";
  var hit = JSON.stringify({ page: location.pathname + location.search, title: document.title });
  if (navigator.sendBeacon) {
    navigator.sendBeacon("/collect", new Blob([hit], { type: "application/json" }));
  } else {
    fetch("/collect", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: hit,
      keepalive: true,
      credentials: "same-origin"
    });
  }
})();
