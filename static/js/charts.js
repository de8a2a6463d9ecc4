// Draws every chart of the page.  A chart is a <div class="chart" data-figure="ID"> beside a
// <script type="application/json" id="ID"> (Django's json_script) holding a Plotly figure
// {data, layout}: the server decides what is drawn, this file only hands it to plotly.js.
// No inline script, no eval (the strict plotly.js build), so the page keeps its strict CSP.
(function () {
  "use strict";
  var CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-figure"));
    if (!source || typeof Plotly === "undefined") {
      element.classList.add("chart-unavailable");
      return;
    }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout || {}, CONFIG).then(function () {
      element.setAttribute("data-drawn", "true");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-figure]"), draw);
  });
})();
