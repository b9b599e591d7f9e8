// Live progress of a running import (see progress.js); the page reloads to show its error report.
import { followProgress, showCounts, showPercent } from "./progress.js";

const RUNNING = new Set(["pending", "queued", "running"]);
const COUNTS = ["rows_total", "rows_created", "rows_updated", "rows_skipped", "rows_failed"];

function percentOf(job) {
  if (job.bytes_total) return Math.min(100, Math.round((100 * job.bytes_done) / job.bytes_total));
  return job.status === "done" ? 100 : 0;
}

export function enhanceImportProgress(root) {
  const block = root.querySelector("[data-import-progress]");
  followProgress(block, block?.dataset.importProgress, RUNNING, (job) => {
    showPercent(block, percentOf(job));
    const status = block.querySelector("[data-field=status]");
    if (status) status.textContent = job.status;
    showCounts(block, job, COUNTS);
  });
}
