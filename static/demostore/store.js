/* The demo store's own script: a cart kept in localStorage and calls to the tracker (/tracker.js,
 * loaded before this file with the store's public key), exactly as a real store's pages would. */
(function () {
  'use strict';
  var t = window.tracker && window.tracker.track ? window.tracker : {
    page: function () {}, track: function () {}, identify: function () {}, reset: function () {}
  };
  var $ = function (id) { return document.getElementById(id); };
  function load(name, fallback) {
    try { return JSON.parse(localStorage.getItem(name)) || fallback; } catch (e) { return fallback; }
  }
  function save(name, value) { localStorage.setItem(name, JSON.stringify(value)); }
  function cart() { return load('demo_cart', []); }
  function shopper() { return load('demo_shopper', null); }
  // The tracker's session id (its first-party storage), so the server's order joins the visit.
  function trackerSession() { var s = load('_trk_ses', null); return s && s.id ? s.id : ''; }
  function money(x) { return (Math.round(x * 100) / 100).toFixed(2); }
  function total(lines) { return lines.reduce(function (s, l) { return s + l.price * l.quantity; }, 0); }
  function lineProps(l) {
    return { product_id: l.product_id, name: l.name, price: l.price, quantity: l.quantity, category: l.category };
  }

  function header() {
    $('cart-count').textContent = cart().reduce(function (s, l) { return s + l.quantity; }, 0);
    var who = shopper();
    if (who) { $('shopper').hidden = false; $('shopper').textContent = 'Hello, ' + (who.name || who.id); }
  }

  function productPage() {
    var add = $('add');
    if (!add) return;
    t.track('view');  // product details from the page's data-product-* attributes
    add.addEventListener('click', function () {
      var ds = add.dataset, lines = cart(), price = parseFloat(ds.productPrice);
      var line = lines.filter(function (l) { return l.product_id === ds.productId; })[0];
      if (line) line.quantity += 1;
      else lines.push({ product_id: ds.productId, name: ds.productName, price: price, quantity: 1,
                        category: ds.productCategory });
      save('demo_cart', lines);
      t.track('add_to_cart', add);
      $('added').hidden = false;
      header();
    });
  }

  function cartPage() {
    var body = $('cart-lines');
    if (!body) return;
    var tbody = body.querySelector('tbody'), lines = cart();
    tbody.textContent = '';
    $('cart-empty').hidden = lines.length > 0;
    lines.forEach(function (l, i) {
      var tr = document.createElement('tr');
      [l.name, String(l.quantity), money(l.price)].forEach(function (text) {
        var td = document.createElement('td'); td.textContent = text; tr.appendChild(td);
      });
      var td = document.createElement('td'), remove = document.createElement('button');
      remove.type = 'button'; remove.textContent = 'Remove'; remove.className = 'remove';
      remove.addEventListener('click', function () {
        var all = cart(); all.splice(i, 1); save('demo_cart', all);
        t.track('remove_from_cart', lineProps(l));
        cartPage(); header();
      });
      td.appendChild(remove); tr.appendChild(td); tbody.appendChild(tr);
    });
  }

  function loginPage() {
    var form = $('login-form');
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var id = $('customer-id').value.trim();
      if (!id) return;
      var who = { id: id, name: $('name').value.trim(), email: $('email').value.trim() };
      save('demo_shopper', who);
      t.identify(id, { name: who.name, email: who.email });
      var next = new URLSearchParams(location.search).get('next');
      location.href = next && next.indexOf('/demo-store/') === 0 ? next : '/demo-store/';
    });
    $('logout').addEventListener('click', function () {
      localStorage.removeItem('demo_shopper');
      t.reset();
      location.href = '/demo-store/';
    });
  }

  function checkoutPage() {
    var place = $('place-order');
    if (!place) return;
    var lines = cart();
    $('total').textContent = money(total(lines));
    if (!shopper()) { $('need-login').hidden = false; place.disabled = true; }
    if (!lines.length) place.disabled = true;
    if (lines.length) t.track('checkout', { products: lines.map(lineProps), total: total(lines) });
    place.addEventListener('click', function () {
      var now = cart(), who = shopper();
      if (!now.length || !who) return;
      place.disabled = true;
      // The shop's server places the order and reports it (a verified order); the page then reports
      // the purchase with the order's id, as a real store's thank-you page does.
      fetch('/demo-store/order/', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json',
                   'X-CSRFToken': document.querySelector('[name=csrfmiddlewaretoken]').value },
        body: JSON.stringify({ customer_id: who.id, session_id: trackerSession(),
                               lines: now.map(function (l) { return { product_id: l.product_id, quantity: l.quantity }; }) })
      }).then(function (r) { return r.json(); }).then(function (answer) {
        if (!answer.order_id) throw new Error(answer.error || 'the order was not placed');
        t.track('purchase', { order_id: answer.order_id, total: total(now), products: now.map(lineProps) });
        save('demo_cart', []);
        $('order-id').textContent = answer.order_id;
        $('thanks').hidden = false;
        header();
      }).catch(function (e) {
        place.disabled = false;
        $('order-error').textContent = String(e.message || e);
        $('order-error').hidden = false;
      });
    });
  }

  t.page();
  header();
  productPage();
  cartPage();
  loginPage();
  checkoutPage();
}());
