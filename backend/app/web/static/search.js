// Search: the passages that answer, each linking to the moment it is said.

import { call } from "./api.js";
import { el, momentLink, whileBusy } from "./dom.js";

const form = document.getElementById("search-form");
const summary = document.getElementById("search-summary");
const results = document.getElementById("search-results");

/** The snippet with the matched words (between `**` in the API's answer) marked. */
function snippet(text) {
  const paragraph = el("p", { class: "snippet" });
  text.split("**").forEach((part, index) => paragraph.append(index % 2 ? el("mark", { text: part }) : part));
  return paragraph;
}

function hitItem(hit) {
  return el("li", { class: "row result" }, el("div", { class: "row-main" }, momentLink(hit), snippet(hit.snippet)));
}

async function search() {
  const query = new URLSearchParams({ q: form.q.value.trim(), mode: form.mode.value });
  summary.textContent = "Searching…";
  results.replaceChildren();
  try {
    const found = await call(`/search?${query}`);
    results.replaceChildren(...found.hits.map(hitItem));
    summary.textContent = found.answerable
      ? `${found.hits.length} passage${found.hits.length === 1 ? "" : "s"} found.`
      : found.hits.length
        ? "No passage answers this as a question; these hold its words."
        : found.preparing
          ? "Nothing yet: some of your videos are still being prepared. Search again once they are ready."
          : "None of your videos answers this. Try other words, or add the video that does.";
  } catch (error) {
    summary.textContent = "";
    throw error;
  }
}

export function setUpSearch() {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(form, search);
  });
}

export function stopSearch() {
  form.reset();
  summary.textContent = "";
  results.replaceChildren();
}
