// A printout shows what collapsed <details> hold: every closed one is opened before printing and
// closed again after, as the reader left it.  (The print stylesheet shows their content too, where
// the browser lets CSS reach it: `details::details-content`.)  A file of its own on every page: the
// strict CSP allows no inline script.
(function () {
  "use strict";
  var opened = [];

  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (details) {
      details.open = true;
      opened.push(details);
    });
  });

  window.addEventListener("afterprint", function () {
    opened.forEach(function (details) {
      details.open = false;
    });
    opened = [];
  });
})();
