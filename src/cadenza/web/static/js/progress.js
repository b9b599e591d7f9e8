// Live progress of background work shown on a page (an import, a duplicate scan). Polls the REST resource
// with the session cookie, shows what it says, and reloads the page when the work ends (to show its outcome).
// Without JavaScript a <noscript> refresh does the job.

export function followProgress(block, url, active, show) {
  if (!block || !active.has(block.dataset.status)) return;

  async function poll() {
    let resource;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      resource = await response.json();
    } catch {
      // The API is unreachable: fall back to what the page does without JavaScript.
      setTimeout(() => window.location.reload(), 3000);
      return;
    }
    if (!active.has(resource.status)) {
      window.location.reload();
      return;
    }
    show(resource);
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 700);
}

// Sets the text of the block's [data-field=name] elements that `values` names, as grouped whole numbers.
export function showCounts(block, values, names) {
  for (const name of names) {
    const element = block.querySelector(`[data-field="${name}"]`);
    if (element && values[name] !== undefined && values[name] !== null) {
      element.textContent = Number(values[name]).toLocaleString("en-US");
    }
  }
}

// Sets the block's <progress> bar and its [data-field=percent] text.
export function showPercent(block, value) {
  const bar = block.querySelector("progress");
  const percent = block.querySelector("[data-field=percent]");
  if (bar) bar.value = value;
  if (percent) percent.textContent = `${value}%`;
}
