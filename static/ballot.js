// The slip's QR code gives the ballot's code after '#', which no browser
// sends to the server: put it in the form and open the ballot.
(function () {
  "use strict";
  var code = decodeURIComponent(window.location.hash.slice(1));
  var form = document.getElementById("code-form");
  if (!code || !form) return;
  history.replaceState(null, "", window.location.pathname);
  form.elements.code.value = code;
  form.submit();
})();
