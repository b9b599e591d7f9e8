// Live progress of a running import. Polls the REST API with the session cookie and reloads the page
// when the import ends (to show its error report). Without JavaScript a <noscript> refresh does the job.

const RUNNING = new Set(["pending", "queued", "running"]);

function setText(root, name, value) {
  const element = root.querySelector(`[data-field="${name}"]`);
  if (element && value !== undefined && value !== null) element.textContent = Number(value).toLocaleString("en-US");
}

function percentOf(job) {
  if (job.bytes_total) return Math.min(100, Math.round((100 * job.bytes_done) / job.bytes_total));
  return job.status === "done" ? 100 : 0;
}

export function enhanceImportProgress(root) {
  const block = root.querySelector("[data-import-progress]");
  if (!block) return;
  const url = block.dataset.importProgress;
  const bar = block.querySelector("progress");
  const percent = block.querySelector("[data-field=percent]");
  const status = block.querySelector("[data-field=status]");
  const delay = 700;

  async function poll() {
    let job;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      job = await response.json();
    } catch {
      // The API is unreachable: fall back to what the page does without JavaScript.
      setTimeout(() => window.location.reload(), 3000);
      return;
    }
    const value = percentOf(job);
    if (bar) bar.value = value;
    if (percent) percent.textContent = `${value}%`;
    if (status) status.textContent = job.status;
    for (const name of ["rows_total", "rows_created", "rows_updated", "rows_skipped", "rows_failed"]) setText(root, name, job[name]);
    if (RUNNING.has(job.status)) {
      setTimeout(poll, 1000);
    } else if (block.dataset.status !== job.status) {
      window.location.reload();
    }
  }
  if (RUNNING.has(block.dataset.status)) setTimeout(poll, delay);
}
