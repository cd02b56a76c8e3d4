/* scrapejobs: starts Swagger UI on /docs (web/api_docs.py).
 *
 * FastAPI starts Swagger UI with an inline script; this file does the same from
 * /static, so the page's Content-Security-Policy can forbid inline script. The
 * settings (the OpenAPI URL and FastAPI's Swagger UI parameters) are JSON in the
 * data-config attribute of #swagger-ui, written by the server.
 */
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  var config = JSON.parse(root.getAttribute("data-config"));
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  window.ui = SwaggerUIBundle(config);
})();
