// Render every <div class="vega-chart" data-spec="..."> with vega-embed.
// Subscribed to Material's document$ (instant navigation) with a DOMContentLoaded fallback.
(function () {
  function renderCharts() {
    if (typeof window.vegaEmbed !== "function") return;
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
