/* Dashboard pages: draw the server-built Plotly figures and keep the live socket open. */
(function () {
  "use strict";
  var script = document.getElementById("dashboard-js");
  var query = (script && script.dataset.query) || "";

  // --- charts -------------------------------------------------------------------------------
  var config = {
    responsive: true, displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines"],
  };
  function drawCharts() {
    if (!window.Plotly) return;
    document.querySelectorAll(".chart[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data, fig.layout, config).then(function () {
        el.dataset.rendered = "1";
      });
    });
  }

  // --- live updates -------------------------------------------------------------------------
  var live = document.getElementById("live");
  var liveText = live && live.querySelector(".live-text");
  function setState(state, text) {
    if (!live) return;
    live.dataset.state = state;
    liveText.textContent = text;
  }

  function esc(s) {
    return String(s === null || s === undefined ? "—" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function label(action) {
    var s = String(action || "").replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  function money(v) {
    var symbol = document.documentElement.getAttribute("data-currency") || "$";
    return symbol + Number(v || 0).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }
  function when(iso) { return iso ? String(iso).slice(0, 16).replace("T", " ") : "—"; }

  function applyKpis(cards) {
    (cards || []).forEach(function (c) {
      var card = document.querySelector('[data-kpi="' + c.key + '"]');
      if (!card) return;
      var value = card.querySelector('[data-role="value"]');
      if (value.textContent !== c.display) {
        value.textContent = c.display;
        card.classList.remove("flash");
        void card.offsetWidth;  // restart the animation
        card.classList.add("flash");
      }
      var change = card.querySelector('[data-role="change"]');
      if (!change) return;
      change.className = "change" + (c.good === true ? " good" : c.good === false ? " bad" : "");
      change.title = "Previous period: " + (c.previous_display || "—");
      if (c.change_text) {
        change.innerHTML = (c.direction === "up" ? "▲ " : c.direction === "down" ? "▼ " : "") + esc(c.change_text) +
          ' <span class="vs">vs prev. period</span>';
      } else if (c.note) {
        change.innerHTML = '<span class="note">' + esc(c.note) + "</span>";
      } else {
        change.innerHTML = "&nbsp;";
      }
    });
  }

  // Events waiting to be derived into sessions and carts: the banner under the page head.
  function applyFreshness(f) {
    var banner = document.getElementById("freshness");
    if (!banner || !f) return;
    banner.dataset.pendingEvents = String(f.pending_events || 0);
    if (f.message) {
      banner.textContent = f.message || "";
      banner.hidden = false;
    } else {
      banner.textContent = "";
      banner.hidden = true;
    }
  }

  // Open alert incidents (the alerts app), pushed with every update: the banner above the page.
  function applyNotices(notices) {
    var banner = document.getElementById("alert-banner");
    if (!banner || !notices) return;
    banner.innerHTML = notices.map(function (n) {
      return '<a href="' + esc(n.href) + '" data-incident="' + esc(n.id) + '">' + esc(n.text) + "</a>";
    }).join("<br>");
    banner.hidden = !notices.length;
  }

  function applyFeed(events) {
    var feed = document.getElementById("feed");
    if (!feed || !events) return;
    if (!events.length) return;
    feed.innerHTML = events.map(function (e) {
      var what = esc(e.product_title);
      if (e.action === "purchase") what += " · " + money(e.price) + (e.quantity > 1 ? " × " + e.quantity : "");
      return '<li><span class="act act-' + esc(e.action) + '">' + esc(label(e.action)) + "</span>" +
        '<span class="what">' + what + "</span>" +
        '<span class="meta">customer ' + esc(e.customer_id) + ' · <time datetime="' + esc(e.timestamp) + '">' +
        esc(when(e.timestamp)) + "</time></span></li>";
    }).join("");
  }

  var delay = 1000;
  var updates = 0;
  function connect() {
    if (!live) return;
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(proto + location.host + "/ws/dashboard/" + (query ? "?" + query : ""));
    } catch (err) {
      retry();
      return;
    }
    setState("connecting", "Connecting…");
    ws.onopen = function () { delay = 1000; setState("live", "Live"); };
    ws.onmessage = function (msg) {
      var data = JSON.parse(msg.data);
      if (data.type === "update") {
        updates += 1;
        live.dataset.updates = String(updates);
        applyKpis(data.kpis);
        applyFeed(data.feed);
        applyFreshness(data.freshness);
        applyNotices(data.notices);
      }
    };
    ws.onclose = function (ev) {
      if (ev.code === 4401 || ev.code === 4403) { setState("off", "Signed out"); return; }
      retry();
    };
  }
  function retry() {
    setState("offline", "Reconnecting…");
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(); connect(); });
  if (document.readyState !== "loading") { drawCharts(); connect(); }
})();
