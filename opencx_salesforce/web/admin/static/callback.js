// The page Salesforce's sign-in returns to. In the settings page's popup: send
// the settings page to its URL with the "Connected" notice (a reload would show
// the notice of its last form again) and close this window. Opened some other
// way (no opener): go to the settings page after a success.
(function () {
  "use strict";
  var body = document.body;
  var adminUrl = body.getAttribute("data-admin-url");
  var connected = body.getAttribute("data-outcome") === "connected";
  var opener = null;
  try {
    opener = window.opener && !window.opener.closed ? window.opener : null;
  } catch (e) {
    opener = null;
  }

  function backToSettings() {
    try {
      opener.location.replace(adminUrl + (connected ? "?notice=connected" : ""));
      window.close();
      return true;
    } catch (e) {
      return false; // the opener is another site now: stay in this window
    }
  }

  if (connected) {
    if (!(opener && backToSettings())) {
      window.location.replace(adminUrl + "?notice=connected");
    }
    return;
  }
  var back = document.getElementById("back-to-settings");
  if (opener && back) {
    back.textContent = "Close this window";
    back.addEventListener("click", function (event) {
      if (backToSettings()) {
        event.preventDefault();
      }
    });
  }
})();
