/* consentgate client: progressive enhancement of the server-rendered banner.
 * Everything works without this file (plain form posts); with it, choices are saved with fetch,
 * newly granted inert elements are activated in place and withdrawals reload the page. */
(function (w, d) {
  "use strict";
  if (w.consentgate) return;
  var BANNER = "consentgate-banner", SETTINGS = "consentgate-settings", ROOT = "consentgate-root",
    DIALOG = "consentgate-dialog";
  var XLINK = "http://www.w3.org/1999/xlink", HTML = "http://www.w3.org/1999/xhtml";
  var me = d.currentScript || d.querySelector("script[data-consent-state]");
  var state = parse(me) || parse(d.querySelector("[data-consent-state]")) ||
    {decided: false, granted: ["necessary"], services: []};
  var opener = null;
  // Endpoints live next to the static assets: <prefix>/static/consentgate.js -> <prefix>/consent.
  var P = "/consentgate";
  try {
    P = new URL(me.src, d.baseURI).pathname.replace(/\/static\/[^/]*$/, "");
  } catch (e) {
    // keep the default prefix
  }

  function parse(el) {
    try {
      var s = JSON.parse(el.getAttribute("data-consent-state"));
      return s && s.granted ? s : null;
    } catch (e) {
      return null;
    }
  }
  function has(list, v) { return !!v && (list || []).indexOf(v) >= 0; }
  function allowed(el, kind) {
    return has(state.granted, el.getAttribute(kind || "data-consent")) ||
      has(state.services, el.getAttribute("data-consent-service"));
  }
  function banner() { return d.getElementById(BANNER); }
  function dialog() { return d.getElementById(DIALOG); }
  function root() { return d.getElementById(ROOT); }
  function move(el, from, to) {
    var v = el.getAttribute(from);
    if (v === null) return false;
    el.removeAttribute(from);
    if (to === "xlink:href") el.setAttributeNS(XLINK, to, v);
    else el.setAttribute(to, v);
    return true;
  }

  // A parser-inserted script (no async) blocks the ones after it; a re-created script does not,
  // so the queue waits for each external ordered script before running the next element.
  // An SVG <script> (href or xlink:href instead of src) is re-created in its own namespace.
  function script(old, next) {
    var svg = old.namespaceURI !== HTML, s = svg ? d.createElementNS(old.namespaceURI, "script") :
      d.createElement("script"), a = old.attributes, i, n, src = null, wait;
    for (i = 0; i < a.length; i++) {
      n = a[i].name;
      if (n === "type" || n === "data-consent-type") continue;
      if (n === "data-consent-src") src = a[i].value;
      else if (n === "data-consent-href") s.setAttribute("href", a[i].value);
      else if (n === "data-consent-xlink-href") s.setAttributeNS(XLINK, "xlink:href", a[i].value);
      else s.setAttribute(n, a[i].value);
    }
    var t = old.getAttribute("data-consent-type");
    if (t) s.setAttribute("type", t);
    if (old.nonce) s.nonce = old.nonce;
    // Only a script the browser will run fires load/error: data blocks and nomodule scripts
    // (skipped by module-aware browsers) must not hold up the queue.
    wait = !!src && !svg && !old.hasAttribute("async") && !old.hasAttribute("nomodule") &&
      /^$|^module$|script/i.test((t || "").split(";")[0].trim());
    if (src && !svg) {
      s.async = old.hasAttribute("async");
      s.src = src;
    } else if (svg) {
      if (!s.hasAttribute("href") && !s.hasAttributeNS(XLINK, "href")) {
        s.textContent = old.textContent;
      }
    } else {
      s.text = old.text;
    }
    if (wait) s.onload = s.onerror = next;
    old.parentNode.replaceChild(s, old);
    if (!wait) next();
  }

  function activate() {
    var els = d.querySelectorAll("[data-consent],[data-consent-placeholder]"), i = 0, media = [];
    function step() {
      while (i < els.length) {
        var el = els[i++], tag = el.tagName.toUpperCase();  // (an SVG element's is lower case)
        if (el.hasAttribute("data-consent-placeholder")) {
          if (allowed(el, "data-consent-placeholder") && el.parentNode) {
            el.parentNode.removeChild(el);
          }
          continue;
        }
        if (!allowed(el)) continue;
        if (tag === "SCRIPT") {
          if ((el.getAttribute("type") || "").toLowerCase() === "text/plain" && el.parentNode) {
            return script(el, step);
          }
          continue;
        }
        // A refresh (<meta http-equiv=refresh>) keeps its data-consent-content: put back, it would
        // start its delay over and take the visitor away from the page they have just accepted
        // on. It is served live from the next page load on.
        if (tag === "META") continue;
        move(el, "data-consent-srcset", "srcset");
        var relink = move(el, "data-consent-imagesrcset", "imagesrcset");  // <link rel=preload>
        move(el, "data-consent-poster", "poster");  // <video>
        move(el, "data-consent-href", "href");
        move(el, "data-consent-xlink-href", "xlink:href");  // SVG <image>
        move(el, "data-consent-data", "data");  // <object>
        move(el, "data-consent-ping", "ping");  // <a>, <area>
        move(el, "data-consent-background", "background");  // <table>, <td>, <body> …
        move(el, "data-consent-action", "action");  // <form action="javascript:…">
        move(el, "data-consent-formaction", "formaction");  // <button>, <input>
        move(el, "data-consent-attributionsrc", "attributionsrc");  // <img>, <script>, <a> …
        move(el, "data-consent-to", "to");  // SVG <set>, <animate> setting an href
        move(el, "data-consent-values", "values");
        move(el, "data-consent-from", "from");
        move(el, "data-consent-by", "by");
        for (var j = el.attributes.length - 1; j >= 0; j--) {  // event handlers
          var an = el.attributes[j].name;
          if (an.lastIndexOf("data-consent-on", 0) === 0) move(el, an, an.slice(13));
        }
        move(el, "data-consent-style", "style");
        var css = el.getAttribute("data-consent-css");  // a <style> whose URLs were made inert
        if (css !== null) {
          el.removeAttribute("data-consent-css");
          el.textContent = css;
        }
        if (move(el, "data-consent-src", "src") && tag === "SOURCE" && el.parentNode.load) {
          media.push(el.parentNode);
        }
        if (relink && el.parentNode) {  // (Chromium reads imagesrcset as a link is inserted)
          el.parentNode.replaceChild(el.cloneNode(true), el);
        }
        if (el.hasAttribute("data-consent-hidden")) {
          el.removeAttribute("data-consent-hidden");
          el.removeAttribute("hidden");
        }
      }
      for (i = 0; i < media.length; i++) media[i].load();
    }
    step();
  }

  function withdrawn(old) {
    for (var k in {granted: 1, services: 1}) {
      for (var j = 0; j < (old[k] || []).length; j++) {
        if (!has(state[k], old[k][j])) return true;
      }
    }
    return false;
  }

  function apply(next) {
    var old = state;
    state = next;
    if (withdrawn(old)) {
      // Code that already ran cannot be unloaded; the server has expired its cookies.
      w.location.reload();
      return;
    }
    settings();
    hide();
    d.dispatchEvent(new CustomEvent("consentgate:change", {detail: get()}));
    activate();
  }

  function save(action, categories, services, url) {
    return fetch(url || P + "/consent", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify({action: action, categories: categories || [], services: services || []})
    }).then(function (r) {
      if (!r.ok) throw new Error("consentgate: " + r.status);
      return r.json();
    }).then(function (s) {
      apply(s);
      return get();
    });
  }

  // The control that re-opens the choice, as settings_link.html renders it.
  function settings() {
    var a = d.getElementById(SETTINGS), r = root();
    if (a) return;
    a = d.createElement("a");
    a.id = SETTINGS;
    a.className = SETTINGS + " " + SETTINGS + "-" +
      ((r && r.getAttribute("data-settings-position")) || "bottom-left");
    a.href = P + "/preferences";
    a.title = a.textContent = (r && r.getAttribute("data-settings-label")) || "Cookie settings";
    a.setAttribute("data-consentgate-open", "");
    (r || d.body).appendChild(a);
  }

  function focusIn(b) {
    if (!b.hasAttribute("tabindex")) b.setAttribute("tabindex", "-1");
    b.focus({preventScroll: true});
  }

  // Focus goes back where it came from, else to a control that re-opens the choice (the page's
  // own link where the injected one is hidden), never lost on <body>; the page does not scroll.
  function back() {
    var c = [opener, banner(), d.getElementById(SETTINGS)], i;
    c.push.apply(c, d.querySelectorAll("[data-consentgate-open]"));
    opener = null;
    for (i = 0; i < c.length; i++) {
      if (c[i] && !c[i].hidden && c[i].getClientRects().length) {
        return c[i].focus({preventScroll: true});
      }
    }
  }

  function hide() {
    var b = banner(), g = dialog(), had = (b && b.contains(d.activeElement)) ||
      (g && g.open);
    if (b) b.hidden = true;
    if (g && g.open) g.close();
    if (had) back();
  }

  // The dialog shows the current choice (it may have been made on the first layer since).
  function sync(g) {
    var boxes = g.querySelectorAll("input[role=switch]:not([disabled])");
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].checked = has(boxes[i].name === "service" ? state.services : state.granted,
        boxes[i].value);
    }
  }

  function open(g) {
    if (!g || g.open) return;
    if (state.decided) sync(g);
    opener = d.activeElement !== d.body ? d.activeElement : null;
    g.showModal();
  }

  // The second layer; fetched when the page has none (a visitor who has chosen).
  function show() {
    if (dialog()) return Promise.resolve(open(dialog()));
    return fetch(P + "/banner", {credentials: "same-origin", headers: {Accept: "text/html"}})
      .then(function (r) {
        if (!r.ok) throw new Error("consentgate: " + r.status);
        return r.text();
      })
      .then(function (html) {
        var tpl = d.createElement("template"), g;
        tpl.innerHTML = html;
        g = tpl.content.getElementById(DIALOG);
        if (!g) throw new Error("consentgate: no dialog");
        (root() || d.body).appendChild(g);
        open(g);
      });
  }

  function get() {
    return JSON.parse(JSON.stringify(state));
  }

  d.addEventListener("submit", function (e) {
    var f = e.target, s = e.submitter;
    if (f.cgNative || !f.closest("#" + ROOT + ",.consentgate-placeholder")) return;
    e.preventDefault();
    var data = new FormData(f), action = (s && s.name === "action" && s.value) ||
      data.get("action") || "save";
    var url = f.getAttribute("action");
    save(action, data.getAll("category"), data.getAll("service"), url)["catch"](function () {
      // The plain form post still works (and reports errors) where fetch failed.
      f.cgNative = true;
      if (s && s.name) {
        var h = d.createElement("input");
        h.type = "hidden";
        h.name = s.name;
        h.value = s.value;
        f.appendChild(h);
      }
      HTMLFormElement.prototype.submit.call(f);
    });
  });

  d.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest(
      "[data-consentgate-open],[data-consentgate-customise],[data-consentgate-close]");
    if (!t || e.button || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    if (t.hasAttribute("data-consentgate-close")) dialog().close();
    else show()["catch"](function () { w.location.href = t.href || P + "/preferences"; });
  });

  // A modal dialog makes the page inert; Tab also wraps inside it rather than leaving for the
  // browser's own controls.
  d.addEventListener("keydown", function (e) {
    var g = dialog();
    if (e.key !== "Tab" || !g || !g.open) return;
    var all = g.querySelectorAll("a[href],button,input:not([disabled]),summary"), v = [], i;
    for (i = 0; i < all.length; i++) if (all[i].getClientRects().length) v.push(all[i]);
    var first = v[0], last = v[v.length - 1], at = d.activeElement;
    if (e.shiftKey ? at === first || !g.contains(at) : at === last) {
      e.preventDefault();
      (e.shiftKey ? last : first).focus();
    }
  });

  // Escape (the dialog's cancel) and the close button: focus goes back where it came from.
  d.addEventListener("close", function (e) {
    if (e.target.id === DIALOG) back();
  }, true);

  w.consentgate = {
    get: get,
    show: show,
    hide: hide,
    save: save,
    allows: function (category, service) {
      return has(state.granted, category) || has(state.services, service);
    }
  };

  function init() {
    activate();
    var b = banner();
    if (b && !b.hidden && (!d.activeElement || d.activeElement === d.body)) focusIn(b);
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", init);
  else init();
})(window, document);
