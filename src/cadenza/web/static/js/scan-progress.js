// Live progress of a duplicate scan (see progress.js); the page reloads to show the pairs it found, or its error.
import { followProgress, showCounts, showPercent } from "./progress.js";

const ACTIVE = new Set(["queued", "running"]);
const STATUS_TEXT = { queued: "waiting for a worker", running: "running" };

export function enhanceScanProgress(root) {
  const block = root.querySelector("[data-scan-progress]");
  followProgress(block, block?.dataset.scanProgress, ACTIVE, (scan) => {
    showPercent(block, scan.percent);
    const status = block.querySelector("[data-field=status]");
    if (status) status.textContent = STATUS_TEXT[scan.status] ?? scan.status;
    showCounts(block, scan, ["contacts_done", "pairs_found"]);
  });
}
