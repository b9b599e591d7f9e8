// Progressive enhancement for the server-rendered pages. Every page works without this file.
import { enhanceConfirmations } from "./confirm.js";
import { enhanceCopyButtons } from "./copy.js";
import { enhanceImportProgress } from "./import-progress.js";
import { enhanceScanProgress } from "./scan-progress.js";

function enhanceFlashes(root) {
  for (const button of root.querySelectorAll("[data-dismiss]")) {
    button.addEventListener("click", () => button.closest("[data-flash]")?.remove());
  }
}

function enhanceMenus(root) {
  const menus = [...root.querySelectorAll("details[data-menu]")];
  document.addEventListener("click", (event) => {
    for (const menu of menus) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") for (const menu of menus) menu.open = false;
  });
}

function enhanceBackButtons(root) {
  for (const button of root.querySelectorAll("[data-back]")) {
    if (window.history.length > 1) {
      button.hidden = false;
      button.addEventListener("click", () => window.history.back());
    }
  }
}

function enhanceAutoSubmit(root) {
  for (const control of root.querySelectorAll("[data-autosubmit]")) {
    control.addEventListener("change", () => control.form?.requestSubmit());
  }
}

function enhanceDropZones(root) {
  for (const zone of root.querySelectorAll("[data-dropzone]")) {
    const input = zone.querySelector("input[type=file]");
    const label = zone.querySelector("[data-file-name]");
    const show = () => { if (label && input.files.length) label.textContent = input.files[0].name; };
    input?.addEventListener("change", show);
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("is-dragging"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("is-dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("is-dragging");
      if (input && event.dataTransfer?.files.length) { input.files = event.dataTransfer.files; show(); }
    });
  }
}

const root = document;
enhanceFlashes(root);
enhanceMenus(root);
enhanceBackButtons(root);
enhanceAutoSubmit(root);
enhanceDropZones(root);
enhanceConfirmations(root);
enhanceCopyButtons(root);
enhanceImportProgress(root);
enhanceScanProgress(root);
// Marks the page as enhanced: browser tests wait for it before using a control that needs this file.
document.documentElement.dataset.enhanced = "true";
