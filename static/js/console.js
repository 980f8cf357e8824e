// NBQ Keys Console: the little JavaScript the pages need. Behaviour hangs on data- attributes.
(function () {
  "use strict";

  // Dialogs swapped into #modal-root open as modals; closing one removes it.
  function openDialogs(root) {
    root.querySelectorAll("dialog[data-modal]").forEach(function (dialog) {
      if (dialog.open) dialog.removeAttribute("open");
      if (!dialog.dataset.bound) {
        dialog.dataset.bound = "1";
        dialog.addEventListener("close", function () { dialog.remove(); });
      }
      if (!dialog.open) dialog.showModal();
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

  document.addEventListener("htmx:afterSettle", function (event) {
    var modalRoot = document.getElementById("modal-root");
    if (modalRoot) openDialogs(modalRoot);
    syncShowWhen(event.target);
  });

  document.addEventListener("DOMContentLoaded", function () { syncShowWhen(document); });

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-modal]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog && document.getElementById("modal-root").contains(dialog)) {
        event.preventDefault();
        dialog.close();
        return;
      }
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var field = document.querySelector(copy.dataset.copy);
      if (!field) return;
      var done = function () {
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { field.select(); document.execCommand("copy"); done(); });
      } else {
        field.select();
        document.execCommand("copy");
        done();
      }
      return;
    }
    var collapse = event.target.closest("[data-collapse-details]");
    if (collapse) {
      var cell = collapse.closest("td");
      if (cell) cell.innerHTML = "";
    }
  });
})();
