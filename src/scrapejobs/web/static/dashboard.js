/* scrapejobs dashboard: the only script besides htmx.
 *
 * The server answers every action with HTML, errors included (4xx fragments
 * are swapped in, see the htmx-config meta tag). What it cannot answer is a
 * network failure or a fault (5xx, a JSON envelope): then this writes the
 * message into the action's status region, as the seed's RetryJobButton does
 * ("Failed to retry: Network error occurred"). Text only, never HTML.
 * It also keeps keyboard focus from getting lost when an action's button goes away.
 */
(function () {
  "use strict";

  function report(event, text) {
    var target = event.detail.target;
    if (!target || !target.hasAttribute("data-error-slot")) {
      return;
    }
    var prefix = event.detail.elt.getAttribute("data-error-prefix") || "Request failed";
    var message = document.createElement("p");
    message.className = "notice error";
    message.textContent = prefix + ": " + text;
    target.replaceChildren(message);
  }

  function envelopeError(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error) {
        var details = typeof body.details === "string" ? " (" + body.details + ")" : "";
        return body.error + details;
      }
    } catch (ignored) {
      /* not JSON: fall through */
    }
    return "Server error (" + xhr.status + ")";
  }

  // An action that removed its own button (a retry that worked) would leave keyboard
  // focus nowhere: move it to the region that now says what happened.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var lost = !document.activeElement || document.activeElement === document.body;
    if (lost && target && target.hasAttribute("data-error-slot") && target.isConnected) {
      target.focus();
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    report(event, "Network error occurred");
  });
  document.addEventListener("htmx:responseError", function (event) {
    report(event, envelopeError(event.detail.xhr));
  });
})();
