/* The top bar's two menus: under 768 px a button opens and closes the links; on wider screens the
   account button (role) opens the account menu. CSS folds them only once this script has run, so
   without it every link stays visible. Escape or a click elsewhere closes an open menu. */
(function () {
  "use strict";
  var bar = document.getElementById("topbar");
  if (!bar) return;
  var toggles = [document.getElementById("navtoggle"), document.getElementById("account-toggle")].filter(Boolean);
  function setOpen(toggle, open) {
    var target = document.getElementById(toggle.getAttribute("aria-controls"));
    if (target) target.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  function isOpen(toggle) { return toggle.getAttribute("aria-expanded") === "true"; }
  bar.classList.add("collapsible");
  toggles.forEach(function (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function (ev) {
      ev.stopPropagation();
      setOpen(toggle, !isOpen(toggle));
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    toggles.forEach(function (toggle) {
      if (isOpen(toggle)) { setOpen(toggle, false); toggle.focus(); }
    });
  });
  document.addEventListener("click", function (ev) {
    var account = document.getElementById("account-toggle");
    var menu = document.getElementById("account-menu");
    if (account && menu && isOpen(account) && !menu.contains(ev.target)) setOpen(account, false);
  });
})();
