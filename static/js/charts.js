// Draws every chart of the page.  A chart is a <div class="chart" data-figure="ID"> beside a
// <script type="application/json" id="ID"> (Django's json_script) holding a Plotly figure
// {data, layout}: the server decides what is drawn, this file only hands it to plotly.js.
// No inline script, no eval (the strict plotly.js build), so the page keeps its strict CSP.
(function () {
  "use strict";
  var CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };
  var drawn = [];

  // A bar whose point carries customdata.href (a finding's page) opens it when clicked; only a
  // path on this site, never another origin.
  function followLink(event) {
    var point = event && event.points && event.points[0];
    var href = point && point.customdata && point.customdata.href;
    if (typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/") {
      window.location.assign(href);
    }
  }

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-figure"));
    if (!source || typeof Plotly === "undefined") {
      element.classList.add("chart-unavailable");
      return;
    }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout || {}, CONFIG).then(
      function () {
        element.setAttribute("data-drawn", "true");
        element.on("plotly_click", followLink);
        drawn.push(element);
      },
      function () {
        element.classList.add("chart-unavailable");
      }
    );
  }

  // Printing lays the page out at the paper's width: redraw each chart at its box's new width, and
  // back at the screen's afterwards (the summary under each chart says the same in words).
  function resizeAll() {
    drawn.forEach(function (element) {
      Plotly.Plots.resize(element);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-figure]"), draw);
    if (window.matchMedia) {
      var print = window.matchMedia("print");
      if (print.addEventListener) {
        print.addEventListener("change", resizeAll);
      }
    }
    window.addEventListener("beforeprint", resizeAll);
    window.addEventListener("afterprint", resizeAll);
  });
})();
