// Confirmation dialogs. Without JavaScript, `a[data-confirm]` links lead to a confirmation page and
// `form[data-confirm]` forms submit straight away; with it, both ask in a modal <dialog> first.

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

function buildDialog({ title, text, button, tone }) {
  const dialog = document.createElement("dialog");
  dialog.className = "confirm";
  const body = document.createElement("div");
  body.className = "card-body";
  const heading = document.createElement("h2");
  heading.textContent = title;
  const paragraph = document.createElement("p");
  paragraph.textContent = text;
  body.append(heading, paragraph);
  const actions = document.createElement("div");
  actions.className = "form-actions";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "btn btn-secondary";
  cancel.textContent = "Cancel";
  const ok = document.createElement("button");
  ok.type = "button";
  ok.className = tone === "danger" ? "btn btn-danger" : "btn btn-primary";
  ok.textContent = button;
  ok.dataset.confirmOk = "";
  actions.append(cancel, ok);
  dialog.append(body, actions);
  document.body.append(dialog);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  return { dialog, ok };
}

function ask(options) {
  return new Promise((resolve) => {
    const { dialog, ok } = buildDialog(options);
    let confirmed = false;
    ok.addEventListener("click", () => { confirmed = true; dialog.close(); });
    dialog.addEventListener("close", () => resolve(confirmed));
    dialog.showModal();
    ok.focus();
  });
}

function optionsOf(element) {
  return {
    title: element.dataset.confirm || "Are you sure?",
    text: element.dataset.confirmText || "",
    button: element.dataset.confirmButton || "Confirm",
    tone: element.dataset.confirmTone || "danger",
  };
}

function postTo(action) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  const token = document.createElement("input");
  token.type = "hidden";
  token.name = "csrf_token";
  token.value = csrfToken();
  form.append(token);
  document.body.append(form);
  form.submit();
}

export function enhanceConfirmations(root) {
  for (const link of root.querySelectorAll("a[data-confirm][data-confirm-action]")) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      if (await ask(optionsOf(link))) postTo(link.dataset.confirmAction);
    });
  }
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", async (event) => {
      if (form.dataset.confirmed) return;
      event.preventDefault();
      const submitter = event.submitter;
      if (await ask(optionsOf(form))) {
        form.dataset.confirmed = "yes";
        form.requestSubmit(submitter ?? undefined);
      }
    });
  }
}
