// Live progress of a duplicate scan. Polls the REST API with the session cookie and reloads the page when
// the scan ends (to show the pairs it found, or its error). Without JavaScript a <noscript> refresh does it.

const ACTIVE = new Set(["queued", "running"]);
const STATUS_TEXT = { queued: "waiting for a worker", running: "running" };

export function enhanceScanProgress(root) {
  const block = root.querySelector("[data-scan-progress]");
  if (!block || !ACTIVE.has(block.dataset.status)) return;
  const field = (name) => block.querySelector(`[data-field="${name}"]`);
  const bar = block.querySelector("progress");

  async function poll() {
    let scan;
    try {
      const response = await fetch(block.dataset.scanProgress, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      scan = await response.json();
    } catch {
      setTimeout(() => window.location.reload(), 3000); // what the page does without JavaScript
      return;
    }
    if (!ACTIVE.has(scan.status)) {
      window.location.reload();
      return;
    }
    if (bar) bar.value = scan.percent;
    if (field("percent")) field("percent").textContent = `${scan.percent}%`;
    if (field("status")) field("status").textContent = STATUS_TEXT[scan.status] ?? scan.status;
    for (const name of ["contacts_done", "pairs_found"]) {
      if (field(name)) field(name).textContent = Number(scan[name]).toLocaleString("en-US");
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 700);
}
