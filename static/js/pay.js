// Card payment with Stripe.js: the card field lives in Stripe's frame, so card numbers
// never touch our servers. The order is marked paid by Stripe's webhook, not by this page.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.key);
  var elements = stripe.elements();
  var card = elements.create("card", { hidePostalCode: true });
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          errors.textContent = result.error.message || "";
          button.disabled = false;
        } else {
          window.location.assign(form.dataset.return);
        }
      });
  });
})();
