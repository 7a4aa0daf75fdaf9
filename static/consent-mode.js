/* Google Consent Mode v2 defaults for consentgate. Loaded blocking at the very start of <head>
 * so the defaults exist before any Google tag runs; later choices arrive as consentgate:change. */
(function (w, d) {
  "use strict";
  var me = d.currentScript, state = {};
  try {
    state = JSON.parse(me.getAttribute("data-consent-state")) || {};
  } catch (e) { /* no state: everything denied */ }

  w.dataLayer = w.dataLayer || [];
  // gtag.js tells commands from plain events by the arguments object, so push exactly that.
  w.gtag = w.gtag || function () { w.dataLayer.push(arguments); };

  function signals(s) {
    var granted = s.granted || [];
    function v(category) { return granted.indexOf(category) >= 0 ? "granted" : "denied"; }
    return {
      ad_storage: v("marketing"),
      ad_user_data: v("marketing"),
      ad_personalization: v("marketing"),
      analytics_storage: v("analytical"),
      functionality_storage: v("preference"),
      personalization_storage: v("preference"),
      security_storage: "granted"
    };
  }

  var defaults = signals(state);
  if (!state.decided) defaults.wait_for_update = 500;
  w.gtag("consent", "default", defaults);
  d.addEventListener("consentgate:change", function (e) {
    w.gtag("consent", "update", signals(e.detail || {}));
  });
})(window, document);
