// Drafts: a post or an email from a template, on a topic your videos cover, with a copy button.

import { call } from "./api.js";
import { el, momentLink, whileBusy } from "./dom.js";

const form = document.getElementById("draft-form");
const templates = document.getElementById("draft-template");
const result = document.getElementById("draft-result");
const text = document.getElementById("draft-text");
const sources = document.getElementById("draft-sources");
const copyButton = document.getElementById("copy-draft");
const copyStatus = document.getElementById("copy-status");

const KINDS = { linkedin: "LinkedIn post", twitter: "Twitter thread", blog: "Blog post", email: "Email" };

function templateOption(template) {
  const kind = KINDS[template.template_type] || template.template_type;
  // Built-in templates are named so ("Built-in linkedin"); only the person's own are marked.
  const label = `${kind}: ${template.template_name}${template.user_id ? " (yours)" : ""}`;
  return el("option", { value: template.id, text: label });
}

export async function showDrafts() {
  if (templates.options.length) return;
  await whileBusy(form, async () => {
    const page = await call("/templates?limit=100");
    templates.replaceChildren(...page.items.map(templateOption));
  });
}

async function write() {
  const body = { template_id: form.template.value, topic: form.topic.value.trim() };
  if (form.tone.value.trim()) body.tone = form.tone.value.trim();
  // The earlier draft goes: were this one refused, it would read as this one's result.
  result.hidden = true;
  copyStatus.textContent = "";
  const draft = await call("/drafts", { method: "POST", json: body });
  text.textContent = draft.text;
  sources.replaceChildren(...draft.sources.map((s) => el("li", { value: s.number }, momentLink(s))));
  copyStatus.textContent = "";
  result.hidden = false;
}

async function copy() {
  try {
    await navigator.clipboard.writeText(text.textContent);
    copyStatus.textContent = "Copied.";
  } catch {
    // The clipboard is refused outside a secure context (plain http on another host).
    window.getSelection().selectAllChildren(text);
    copyStatus.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
}

export function setUpDrafts() {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(form, write);
  });
  copyButton.addEventListener("click", copy);
}

export function stopDrafts() {
  templates.replaceChildren();
  result.hidden = true;
  text.textContent = "";
}
