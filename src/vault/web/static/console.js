// Console behaviour without inline scripts (the CSP forbids them): charts are described by data attributes.
(function () {
  "use strict";
  var palette = ["#2f6fb3", "#1e7a46", "#a35d00", "#b3261e", "#6a4c93", "#0f7c8c", "#8a8f98"];

  function drawCharts(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var spec = JSON.parse(canvas.dataset.chart);
      spec.datasets.forEach(function (ds, i) {
        var colour = ds.color || palette[i % palette.length];
        ds.borderColor = colour;
        ds.backgroundColor = spec.type === "line" ? colour : colour + "cc";
        ds.tension = 0.2;
      });
      new Chart(canvas, {
        type: spec.type || "line",
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          scales: spec.percent ? { y: { min: 0, max: 100 } } : { y: { beginAtZero: true } },
          plugins: { legend: { position: "bottom" } },
        },
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (evt) { drawCharts(evt.target); });
  // Forms that must ask before they act (sign-off, erasure) carry data-confirm.
  document.addEventListener("submit", function (evt) {
    var msg = evt.target.dataset && evt.target.dataset.confirm;
    if (msg && !window.confirm(msg)) { evt.preventDefault(); }
  });
})();
