// "Use my location" on the listing form: fills latitude and longitude from the phone's GPS.
// Without JavaScript or permission the fields are simply typed or left empty.
(function () {
  "use strict";
  var button = document.querySelector("[data-geolocate]");
  if (!button || !navigator.geolocation) { return; }
  document.documentElement.classList.add("js");
  button.addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("latitude").value = position.coords.latitude.toFixed(6);
      document.getElementById("longitude").value = position.coords.longitude.toFixed(6);
    }, function () { /* permission refused: leave the fields as they are */ }, { timeout: 15000 });
  });
})();
