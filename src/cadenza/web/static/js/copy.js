// "Copy" buttons: `<button data-copy-target="#id">` copies that element's text.

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export function enhanceCopyButtons(root) {
  for (const button of root.querySelectorAll("[data-copy-target]")) {
    button.hidden = false;
    const label = button.querySelector("[data-copy-label]") ?? button;
    const original = label.textContent;
    button.addEventListener("click", async () => {
      const target = document.querySelector(button.dataset.copyTarget);
      if (!target) return;
      try {
        await copyText(target.textContent.trim());
        label.textContent = "Copied";
      } catch {
        label.textContent = "Select and copy";
      }
      setTimeout(() => { label.textContent = original; }, 2000);
    });
  }
}
