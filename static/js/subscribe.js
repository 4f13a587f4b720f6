/* The dashboard's Subscribe control: the report is e-mailed in the browser's time zone (without this
   script the server uses the store's). docs/alerts-and-reports.md#subscriptions */
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("input[data-browser-time-zone]").forEach(function (input) { input.value = zone; });
})();
