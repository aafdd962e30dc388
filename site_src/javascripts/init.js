// Render every <div class="vega-chart" data-spec="..."> with vega-embed.
// Subscribed to Material's document$ (instant navigation) with a DOMContentLoaded fallback.
// The Vega bundle (~1 MB) is loaded only by pages that have a chart.
(function () {
  var self = document.currentScript && document.currentScript.src;
  var bundleUrl = self ? self.replace(/init\.js(\?.*)?$/, "vendor/vega-bundle.js") : null;
  var bundle = null;

  function loadBundle() {
    if (typeof window.vegaEmbed === "function") return Promise.resolve();
    if (!bundle) {
      bundle = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = bundleUrl;
        s.onload = resolve;
        s.onerror = function () { reject(new Error("cannot load " + bundleUrl)); };
        document.head.appendChild(s);
      });
    }
    return bundle;
  }

  function renderCharts() {
    if (!document.querySelector("div.vega-chart:not([data-rendered])")) return;
    loadBundle().then(drawCharts, function (err) {
      document.querySelectorAll("div.vega-chart:not([data-rendered])").forEach(function (el) {
        el.setAttribute("data-rendered", "error");
        el.textContent = "Charts failed to load: " + err.message;
      });
    });
  }

  function drawCharts() {
    document.querySelectorAll("div.vega-chart:not([data-rendered])").forEach(function (el) {
      el.setAttribute("data-rendered", "pending");
      var url = new URL(el.getAttribute("data-spec"), document.baseURI || window.location.href);
      fetch(url)
        .then(function (r) {
          if (!r.ok) throw new Error("chart " + url + ": HTTP " + r.status);
          return r.json();
        })
        .then(function (spec) {
          return window.vegaEmbed(el, spec, { actions: false, renderer: "svg" });
        })
        .then(function () { el.setAttribute("data-rendered", "done"); })
        .catch(function (err) {
          el.setAttribute("data-rendered", "error");
          el.textContent = "Chart failed to load: " + err.message;
        });
    });
  }
  if (typeof window.document$ !== "undefined" && window.document$.subscribe) {
    window.document$.subscribe(renderCharts);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderCharts);
  } else {
    renderCharts();
  }
})();
