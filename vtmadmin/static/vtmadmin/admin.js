// Small helpers on every page: drop-down menus close on Escape and on a click elsewhere.
document.addEventListener("keydown", function (e) {
  if (e.key !== "Escape") return;
  document.querySelectorAll("details.menu[open]").forEach(function (menu) {
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });
});
document.addEventListener("click", function (e) {
  document.querySelectorAll("details.menu[open]").forEach(function (menu) {
    if (!menu.contains(e.target)) menu.removeAttribute("open");
  });
});

// Forms that ask before they act (restore or delete a backup): data-confirm holds the question.
document.addEventListener("submit", function (e) {
  const question = e.target.dataset && e.target.dataset.confirm;
  if (question && !window.confirm(question)) e.preventDefault();
});

// The wizard's port follows the protocol's usual port until the user types one of their own.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.querySelector("form[data-default-ports]");
  if (!form) return;
  const ports = JSON.parse(form.dataset.defaultPorts);
  const protocol = form.querySelector("[name=protocol]"), port = form.querySelector("[name=port]");
  let touched = false;
  port.addEventListener("input", function () { touched = true; });
  protocol.addEventListener("change", function () { if (!touched && ports[protocol.value]) port.value = ports[protocol.value]; });
});

// A pool's nodes table: "Add a node row" appends a blank row (the formset's empty form) and focuses it.
document.addEventListener("DOMContentLoaded", function () {
  const button = document.getElementById("add-node-row");
  if (!button) return;
  const prefix = button.dataset.prefix, total = document.querySelector(`[name="${prefix}-TOTAL_FORMS"]`);
  const template = document.getElementById("node-row-template"), body = document.querySelector("#nodes-table tbody");
  button.hidden = false;
  button.addEventListener("click", function () {
    const index = Number(total.value);
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("[name], [id], [for]").forEach(function (el) {
      for (const attr of ["name", "id", "for"]) {
        if (el.hasAttribute(attr)) el.setAttribute(attr, el.getAttribute(attr).replace("__prefix__", index));
      }
    });
    body.appendChild(row);
    total.value = index + 1;
    row.querySelector("input").focus();
  });
});
