/* tracker.js: the storefront tracker (docs/tracker.md). No dependencies; hand-written, served as is.
 * Loaded by the snippet shown beside each public key in admin, which defines window.tracker with
 * .key, .host and a queue .q of calls made before this file arrives. Sends Segment-shaped messages
 * to HOST/v1/b (text/plain, write key in the body: no CORS preflight).
 * API: tracker.page(properties?), tracker.track(event, properties|element), tracker.identify(id, traits),
 *      tracker.experiment(name, variant) (an A/B exposure: Segment's Experiment Viewed),
 *      tracker.reset(), tracker.consent(true|false). Consent mode: tracker.consentRequired = true (the
 *      admin snippet sets it): nothing is stored or sent until tracker.consent(true) (remembered
 *      afterwards). Batches hold at most MAX_BATCH messages (a public key's requests are capped). */
(function (w, d) {
  'use strict';
  var T = w.tracker = w.tracker || [];
  if (T.loaded) return;
  T.loaded = true;
  var script = d.currentScript;
  var HOST = T.host || (script ? script.src.replace(/\/tracker\.js.*$/, '') : '');
  var KEY = T.key || (script && script.getAttribute('data-key'));
  var IDLE = 18e5, PFX = '_trk_', MAX_BATCH = 20, VERSION = '1';
  var NAMES = {
    view: 'Product Viewed', add_to_cart: 'Product Added', remove_from_cart: 'Product Removed',
    checkout: 'Checkout Started', purchase: 'Order Completed', refund: 'Order Refunded'
  };
  var UTM = ['source', 'medium', 'campaign', 'term', 'content'];
  var consent = true, mem = {}, buf = [], held = [], timer = 0, tries = 0;
  consent = !T.consentRequired || get('consent') === '1'; // granted on an earlier page: remembered

  // --- first-party storage (localStorage, else a cookie); in memory only before consent ---
  function get(k) {
    if (consent) {
      try { var v = localStorage.getItem(PFX + k); if (v != null) return v; } catch (e) {}
      var m = d.cookie.match(new RegExp('(?:^|; )' + PFX + k + '=([^;]*)'));
      if (m) return decodeURIComponent(m[1]);
    }
    return mem[k];
  }
  function set(k, v) {
    mem[k] = v;
    if (!consent) return;
    try { localStorage.setItem(PFX + k, v); return; } catch (e) {}
    d.cookie = PFX + k + '=' + encodeURIComponent(v) + '; path=/; max-age=31536000; SameSite=Lax';
  }
  function del(k) {
    delete mem[k];
    try { localStorage.removeItem(PFX + k); } catch (e) {}
    d.cookie = PFX + k + '=; path=/; max-age=0';
  }
  function uuid() {
    if (w.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === 'x' ? r : (r & 3 | 8)).toString(16);
    });
  }
  function anonymousId() {
    var a = get('aid');
    if (!a) set('aid', a = uuid());
    return a;
  }

  // --- session: 30 minutes idle; landing page, referrer and UTM captured at its start ---
  function utm() {
    var p = new URLSearchParams(location.search), c = {}, any = false;
    UTM.forEach(function (n) {
      var v = p.get('utm_' + n);
      if (v) { c[n === 'campaign' ? 'name' : n] = v; any = true; }
    });
    return any ? c : null;
  }
  function session() {
    var now = Date.now(), s = null, u = utm();
    try { s = JSON.parse(get('ses') || 'null'); } catch (e) {}
    var ref = d.referrer && d.referrer.indexOf(location.origin) !== 0 ? d.referrer : '';
    if (!s || now - s.at > IDLE || (u && JSON.stringify(u) !== JSON.stringify(s.campaign))) {
      s = { id: uuid(), start: new Date(now).toISOString(), landing: location.href, referrer: ref, campaign: u };
    }
    s.at = now;
    set('ses', JSON.stringify(s));
    return s;
  }

  function context(s) {
    var c = {
      page: { url: location.href, path: location.pathname, title: d.title, referrer: d.referrer },
      landing_page: s.landing, session_id: s.id, session_start: s.start,
      userAgent: navigator.userAgent, library: { name: 'tracker.js', version: VERSION }
    };
    if (s.campaign) c.campaign = s.campaign;
    if (!c.page.referrer && s.referrer) c.page.referrer = s.referrer;
    return c;
  }

  function message(type, extra) {
    var m = {
      type: type, messageId: uuid(), anonymousId: anonymousId(), timestamp: new Date().toISOString(),
      context: context(session())
    };
    var uid = get('uid');
    if (uid) m.userId = uid;
    for (var k in extra) m[k] = extra[k];
    return m;
  }

  // --- product details from data-* attributes (data-product-id, -name, -price, -category, data-quantity) ---
  function fromElement(el) {
    var ds = el.dataset || {}, p = {};
    if (ds.productId) p.product_id = ds.productId;
    if (ds.productName) p.name = ds.productName;
    if (ds.productPrice) p.price = parseFloat(ds.productPrice);
    if (ds.productCategory) p.category = ds.productCategory;
    if (ds.productImage) p.image_url = ds.productImage;
    if (ds.quantity) p.quantity = parseInt(ds.quantity, 10);
    if (ds.orderId) p.order_id = ds.orderId;
    return p;
  }
  function properties(props) {
    if (props && props.nodeType === 1) return fromElement(props);
    var p = {};
    if (props && props.element && props.element.nodeType === 1) p = fromElement(props.element);
    for (var k in props) if (k !== 'element') p[k] = props[k];
    return p;
  }

  // --- sending: batches to /v1/b; fetch keepalive, sendBeacon on page hide; retries with backoff ---
  function enqueue(m) {
    if (!consent) { held.push(m); return; }
    buf.push(m);
    if (buf.length >= MAX_BATCH) flush(); else if (!timer) timer = setTimeout(flush, 1000);
  }
  function body(batch) {
    return JSON.stringify({ batch: batch, writeKey: KEY, sentAt: new Date().toISOString() });
  }
  function flush() {
    clearTimeout(timer); timer = 0;
    if (!buf.length || !consent) return;
    var batch = buf.splice(0, MAX_BATCH);
    var retry = function (after) {
      buf = batch.concat(buf);
      if (++tries > 8) { buf = buf.slice(batch.length); tries = 0; return; }
      timer = setTimeout(flush, after || Math.min(6e4, 1000 * Math.pow(2, tries)));
    };
    try {
      fetch(HOST + '/v1/b', {
        method: 'POST', body: body(batch), keepalive: true, credentials: 'omit',
        headers: { 'Content-Type': 'text/plain' }
      }).then(function (r) {
        if (r.status === 429 || r.status >= 500) {
          retry(1000 * (parseInt(r.headers.get('Retry-After'), 10) || 0));
        } else { tries = 0; if (buf.length) flush(); }
      }, function () { retry(); });
    } catch (e) { retry(); }
  }
  function beacon() {
    if (!buf.length || !consent) return;
    clearTimeout(timer); timer = 0;
    var left = [];
    while (buf.length) { // at most MAX_BATCH a request, as the server accepts from a public key
      var batch = buf.splice(0, MAX_BATCH);
      if (!(navigator.sendBeacon && navigator.sendBeacon(HOST + '/v1/b', body(batch)))) left = left.concat(batch);
    }
    if (left.length) set('pend', JSON.stringify(left)); // sent on the next page's load
  }
  function resend() {
    var p = null;
    try { p = JSON.parse(get('pend') || 'null'); } catch (e) {}
    del('pend');
    if (p && p.length) { buf = p.concat(buf); flush(); }
  }

  // --- the API ---
  var api = {
    page: function (props) {
      enqueue(message('page', { properties: properties(props) }));
    },
    track: function (event, props) {
      var p = properties(props);
      if (!props && event === 'view') {
        var el = d.querySelector('[data-product-id]');
        if (el) p = fromElement(el);
      }
      enqueue(message('track', { event: NAMES[event] || event, properties: p }));
    },
    experiment: function (name, variant) {
      if (name == null || name === '' || variant == null || variant === '') return;
      enqueue(message('track', { event: 'Experiment Viewed',
        properties: { experiment_name: String(name).slice(0, 100), variation_name: String(variant).slice(0, 100) } }));
    },
    identify: function (id, traits) {
      if (id != null && id !== '') set('uid', String(id));
      enqueue(message('identify', { traits: traits || {} }));
    },
    reset: function () {
      flush();
      del('uid'); del('aid'); del('ses');
      mem = {};
    },
    consent: function (granted) {
      if (!granted) {
        consent = false; held = []; buf = []; mem = {};
        ['uid', 'aid', 'ses', 'pend', 'consent'].forEach(del);
        return;
      }
      if (consent) return;
      consent = true;
      set('consent', '1');
      for (var k in mem) set(k, mem[k]);
      var h = held; held = [];
      h.forEach(enqueue);
      resend();
    }
  };
  var queued = T.q || [];
  for (var k in api) T[k] = api[k];
  T.push = function (call) { api[call[0]].apply(null, call.slice(1)); };
  if (consent) resend();
  queued.forEach(T.push);
  T.q = [];

  // Clicks on elements with data-track="add_to_cart" (etc.) send that event with their data-* details.
  d.addEventListener('click', function (e) {
    var el = e.target && e.target.closest && e.target.closest('[data-track]');
    if (el) api.track(el.getAttribute('data-track'), el);
  }, true);
  d.addEventListener('visibilitychange', function () { if (d.visibilityState === 'hidden') beacon(); });
  w.addEventListener('pagehide', beacon);
})(window, document);
