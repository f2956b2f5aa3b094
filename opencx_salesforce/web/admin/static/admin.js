// Progressive enhancement of the settings page; every form works without it.
//  * Connect opens Salesforce's sign-in in a popup and reloads this page when it
//    closes. A blocked popup falls back to the plain form POST (303 to Salesforce,
//    back here afterwards), telling the server so it can say why.
//  * Copy buttons for the Redirect URI and the Webhook URL.
//  * Typing a My Domain URL selects the "My Domain" login choice.
//  * A form with data-confirm asks first (Disconnect: one click revoked the
//    token and forgot the saved Client Secret).
(function () {
  "use strict";

  function popupFeatures() {
    var width = 620;
    var height = 720;
    var left = Math.max(0, window.screenX + (window.outerWidth - width) / 2);
    var top = Math.max(0, window.screenY + (window.outerHeight - height) / 3);
    return "popup,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top;
  }

  function sameWindow(form, reason) {
    var marker = document.createElement("input");
    marker.type = "hidden";
    marker.name = "popup";
    marker.value = reason;
    form.appendChild(marker);
    form.submit(); // submit() fires no submit event: no loop
  }

  var adminUrl = document.body.getAttribute("data-admin-url") || window.location.pathname;
  var leaving = false;
  window.addEventListener("beforeunload", function () { leaving = true; });

  // When the popup closes, show the new status. Usually the callback page has
  // already sent this page to the settings URL (leaving is then true); this
  // covers a popup closed by hand, or one the sign-in cut off from its opener.
  function watchUntilClosed(popup) {
    var timer = window.setInterval(function () {
      if (popup.closed) {
        window.clearInterval(timer);
        if (!leaving) {
          window.location.replace(adminUrl);
        }
      }
    }, 500);
  }

  var connectForm = document.getElementById("connect-form");
  if (connectForm) {
    connectForm.addEventListener("submit", function (event) {
      // Opened now, inside the click, or the browser counts it as unrequested.
      var popup = window.open("", "opencx-salesforce-connect", popupFeatures());
      if (!popup || popup.closed) {
        event.preventDefault();
        sameWindow(connectForm, "blocked");
        return;
      }
      event.preventDefault();
      fetch(connectForm.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
        body: new URLSearchParams(new FormData(connectForm)),
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (answer) {
          popup.location.href = answer.url;
          watchUntilClosed(popup);
        })
        .catch(function () {
          // Let the server explain on a full page.
          popup.close();
          sameWindow(connectForm, "error");
        });
    });
  }

  function copy(input, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select();
      });
    } else {
      input.select();
      if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () { copy(input, button); });
  });

  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  var custom = document.getElementById("custom_login_url");
  var customChoice = document.getElementById("login_custom");
  if (custom && customChoice) {
    custom.addEventListener("input", function () {
      if (custom.value) {
        customChoice.checked = true;
      }
    });
  }
})();
