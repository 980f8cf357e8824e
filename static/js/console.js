// NBQ Keys Console: the little JavaScript the pages need. Behaviour hangs on data- attributes:
//   data-modal            a <dialog> swapped into #modal-root: opened as a modal, removed when closed
//   data-focus-on-close   where focus goes when that dialog closes (else: the element that opened it)
//   data-focus-next       in an htmx response: where focus goes once it has settled
//   data-reveal           the one-time key reveal: closing it before Copy asks once (data-reveal-guard)
//   data-copy             a Copy button (rendered hidden: shown here, so no dead button without JS);
//                         outside a dialog, inside data-copy-scope (its data-copy-status, data-copied-message)
//   data-expiry-select    an expiration <select>; data-expiry-previews lists the date of each choice
//   data-show-when        "control-id=value": shown only while the control has that value
//   data-collapse-details / data-details-toggle   the inline key details
//   data-char-count       "input-id": shows how many characters of the input's maxlength are used
//   data-more-actions     a row's More actions menu (<details>): Escape, a click elsewhere or focus leaving
//                         it closes it; arrow keys (and Home / End) move between its items
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var opener = null; // the element whose click opened the current dialog
  var pageDialogReturn = null; // the page to show in the address bar once a page's own dialog is done

  // Focus the first element found, trying "a, b, c" in that order (not document order).
  function focusFirst(selectors) {
    if (!selectors) return false;
    var target = null;
    selectors.split(",").some(function (selector) {
      try { target = document.querySelector(selector.trim()); } catch (e) { target = null; }
      return target !== null;
    });
    if (!target) return false;
    if (!target.matches("a[href], button, input, select, textarea, [tabindex]")) target.setAttribute("tabindex", "-1");
    target.focus();
    return document.activeElement === target;
  }

  function focusAfterClose(dialog) {
    if (focusFirst(dialog.dataset.focusOnClose)) return;
    if (opener && opener.isConnected) {
      var menu = opener.closest("details");
      if (menu && !menu.open) { menu.querySelector("summary").focus(); return; } // a closed More actions menu
      opener.focus();
      return;
    }
    focusFirst("#generate-button:not([disabled])") || focusFirst("#content");
  }

  // --- dialogs ---------------------------------------------------------------------------
  function openDialogs(root) {
    root.querySelectorAll("dialog[data-modal]").forEach(function (dialog) {
      if (dialog.open) dialog.removeAttribute("open");
      if (!dialog.dataset.bound) {
        dialog.dataset.bound = "1";
        dialog.addEventListener("close", function () {
          dialog.remove();
          if (pageDialogReturn && !document.querySelector("#modal-root dialog[open]")) {
            // The dialog was a page of its own (e.g. /keys/new/): its work done, the address is the list's.
            history.replaceState(history.state, "", pageDialogReturn);
            pageDialogReturn = null;
          }
          focusAfterClose(dialog);
        });
        dialog.addEventListener("cancel", function (event) { // Escape
          if (!mayClose(dialog)) event.preventDefault();
        });
        dialog.addEventListener("click", function (event) { // a click on the backdrop
          if (event.target !== dialog) return;
          var box = dialog.getBoundingClientRect();
          var inside = event.clientX >= box.left && event.clientX <= box.right &&
                       event.clientY >= box.top && event.clientY <= box.bottom;
          if (!inside && mayClose(dialog)) dialog.close();
        });
        setUpReveal(dialog);
      }
      if (!dialog.open) dialog.showModal();
      // A form sent back with errors: focus the first field to fix.
      var invalid = dialog.querySelector(".has-error input:not([type=hidden]), .has-error select, .has-error textarea");
      if (invalid) invalid.focus();
      if (dialog.hasAttribute("data-reveal")) {
        // The key is selected (Ctrl+C works at once) and focus waits on Copy.
        var field = dialog.querySelector("#new-key-value");
        if (field) field.select();
        var copy = dialog.querySelector("[data-copy]");
        if (copy) copy.focus();
      }
    });
  }

  // --- the reveal guard --------------------------------------------------------------------
  function setUpReveal(dialog) {
    if (!dialog.hasAttribute("data-reveal")) return;
    dialog.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
  }

  // True when the dialog may close now; for an uncopied reveal, the first attempt shows the guard.
  function mayClose(dialog) {
    if (!dialog.hasAttribute("data-reveal") || dialog.dataset.copied || dialog.dataset.guardShown) return true;
    var guard = dialog.querySelector("[data-reveal-guard]");
    if (!guard) return true;
    dialog.dataset.guardShown = "1";
    guard.hidden = false;
    var actions = dialog.querySelector("[data-reveal-actions]");
    if (actions) actions.hidden = true;
    var back = guard.querySelector("[data-reveal-back]");
    if (back) back.focus();
    return false;
  }

  function hideGuard(dialog) {
    var guard = dialog.querySelector("[data-reveal-guard]");
    if (guard) guard.hidden = true;
    var actions = dialog.querySelector("[data-reveal-actions]");
    if (actions) actions.hidden = false;
    delete dialog.dataset.guardShown;
  }

  // --- expiration preview and show-when -------------------------------------------------
  function syncExpiry(root) {
    root.querySelectorAll("[data-expiry-select]").forEach(function (select) {
      var field = select.closest(".field");
      var list = field && field.querySelector("[data-expiry-previews]");
      var out = document.getElementById(select.getAttribute("aria-describedby").split(" ")[0]);
      if (!list || !out) return;
      var update = function () {
        var item = list.querySelector('[data-rule="' + select.value + '"]');
        out.textContent = item ? item.textContent : "";
      };
      if (!select.dataset.expiryBound) {
        select.dataset.expiryBound = "1";
        select.addEventListener("change", update);
      }
      update();
    });
  }

  function syncShowWhen(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var parts = el.dataset.showWhen.split("=");
      var control = document.getElementById(parts[0]);
      if (!control) return;
      var update = function () { el.hidden = control.value !== parts[1]; };
      if (!control.dataset.showWhenBound) {
        control.dataset.showWhenBound = "1";
        control.addEventListener("change", update);
      }
      update();
    });
  }

  // --- htmx hooks -----------------------------------------------------------------------
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.getAttribute && elt.getAttribute("hx-target") === "#modal-root" && !elt.closest("dialog")) opener = elt;
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var modalRoot = document.getElementById("modal-root");
    if (modalRoot) openDialogs(modalRoot);
    syncShowWhen(event.target);
    syncExpiry(event.target);
    var next = document.querySelector("[data-focus-next]");
    if (next) {
      var selectors = next.dataset.focusNext;
      next.remove();
      focusFirst(selectors);
    }
    // Details loaded into a row: focus moves to them, so the keyboard continues there.
    if (event.target.matches && event.target.matches("td[id^=details-]")) {
      var details = event.target.querySelector("[data-details]");
      if (details) { details.setAttribute("tabindex", "-1"); details.focus(); }
    }
  });

  // A dialog served as a page (a link opened in a new tab, the first-run Generate at /keys/new/):
  // with JavaScript it becomes the modal it is everywhere else, so Generate's reveal replaces it
  // and Done leaves no form open behind it (nor the /new/ address).
  function upgradePageDialogs() {
    var modalRoot = document.getElementById("modal-root");
    if (!modalRoot) return;
    document.querySelectorAll("dialog[data-modal][open]:not([data-reveal])").forEach(function (dialog) {
      if (modalRoot.contains(dialog)) return;
      var back = dialog.querySelector("a[data-close-modal][href]");
      if (back) pageDialogReturn = back.href;
      modalRoot.appendChild(dialog);
    });
    openDialogs(modalRoot);
  }

  // A full page after a plain form post: focus goes where the keyboard should go on (#32, finding 5):
  // the first field to fix, else the heading the address points at (e.g. #invitations-heading).
  function focusOnLoad() {
    if (document.querySelector("#modal-root dialog[open]")) return;
    var bad = document.querySelector("main .has-error input:not([type=hidden]), main .has-error select, main .has-error textarea");
    if (bad) { bad.focus(); return; }
    if (location.hash.length > 1) {
      var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target && target.hasAttribute("tabindex")) target.focus();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    upgradePageDialogs();
    focusOnLoad();
    syncShowWhen(document);
    syncExpiry(document);
    // Copy buttons outside dialogs (the 2FA secret): shown only where JavaScript runs.
    document.querySelectorAll("[data-copy-scope] [data-copy]").forEach(function (button) { button.hidden = false; });
    // Without htmx (a full page holding an open dialog) the reveal still gets its Copy button.
    document.querySelectorAll("dialog[data-reveal]").forEach(function (dialog) {
      dialog.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
      var field = dialog.querySelector("#new-key-value");
      if (field) { field.focus(); field.select(); }
    });
  });

  // --- clicks ------------------------------------------------------------------------------
  function copyField(button) {
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    var dialog = button.closest("dialog");
    var scope = dialog || button.closest("[data-copy-scope]");
    var done = function () {
      if (dialog) { dialog.dataset.copied = "1"; hideGuard(dialog); }
      button.textContent = "Copied";
      var status = scope && scope.querySelector("[data-copy-status]");
      if (status) status.textContent = button.dataset.copiedMessage || "The key is on your clipboard.";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    var fallback = function () { field.select(); document.execCommand("copy"); done(); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, fallback);
    } else {
      fallback();
    }
  }

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-modal], [data-reveal-close-anyway]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog && document.getElementById("modal-root").contains(dialog)) {
        event.preventDefault();
        if (closer.hasAttribute("data-reveal-close-anyway") || mayClose(dialog)) dialog.close();
        return;
      }
    }
    var back = event.target.closest("[data-reveal-back]");
    if (back) {
      var revealDialog = back.closest("dialog");
      hideGuard(revealDialog);
      var copyButton = revealDialog.querySelector("[data-copy]");
      if (copyButton) copyButton.focus();
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) { copyField(copy); return; }
    var collapse = event.target.closest("[data-collapse-details]");
    if (collapse) {
      var cell = collapse.closest("td");
      var row = collapse.closest("tbody");
      if (cell) cell.innerHTML = "";
      var toggle = row && row.querySelector("[data-details-toggle]");
      if (toggle) toggle.focus();
    }
  });

  // --- More actions menus (<details>): one open at a time; Escape and outside clicks close them --------
  function closeMenus(except) {
    document.querySelectorAll("details[data-more-actions][open]").forEach(function (menu) {
      if (menu !== except) menu.open = false;
    });
  }
  document.addEventListener("click", function (event) {
    if (!event.target.closest || event.target.closest("dialog")) return; // a dialog a menu item opened
    var menu = event.target.closest("details[data-more-actions]");
    closeMenus(menu);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var menu = event.target.closest("details[data-more-actions][open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  // Focus leaving an open menu (Tab past its last item, or a dialog opened from it) closes it, so
  // it never covers the next row's focused button (WCAG 2.4.11).
  document.addEventListener("focusout", function (event) {
    var menu = event.target.closest && event.target.closest("details[data-more-actions][open]");
    if (!menu) return;
    var next = event.relatedTarget;
    if (next && menu.contains(next)) return;
    menu.open = false;
  });
  // Arrow keys move between the menu's items (Down on its button opens it on the first item).
  document.addEventListener("keydown", function (event) {
    var keys = ["ArrowDown", "ArrowUp", "Home", "End"];
    if (keys.indexOf(event.key) < 0 || !event.target.closest) return;
    var menu = event.target.closest("details[data-more-actions]");
    if (!menu) return;
    var items = Array.prototype.slice.call(menu.querySelectorAll(".menu a[href], .menu button:not([disabled])"));
    if (!items.length) return;
    event.preventDefault();
    if (!menu.open) { menu.open = true; }
    var at = items.indexOf(document.activeElement);
    var to;
    if (event.key === "Home") to = 0;
    else if (event.key === "End") to = items.length - 1;
    else if (event.key === "ArrowDown") to = at < 0 ? 0 : (at + 1) % items.length;
    else to = at < 0 ? items.length - 1 : (at - 1 + items.length) % items.length;
    items[to].focus();
  });

  // --- character counters (data-char-count="input-id"): "12 of 64 used", said only near the limit ----
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.id || !input.maxLength || input.maxLength < 0) return;
    var counter = document.querySelector('[data-char-count="' + input.id + '"]');
    if (!counter) return;
    var used = input.value.length;
    counter.textContent = "(" + used + " of " + input.maxLength + " used)";
    counter.setAttribute("aria-live", used >= input.maxLength - 8 ? "polite" : "off");
  });
})();
