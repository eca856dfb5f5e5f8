// A video's outline: a summary of the whole, and its chapters, each opening the video at its
// start. Asked for when first opened: the server may find the chapters on that first read.

import { call } from "./api.js";
import { clock, el, showProblem } from "./dom.js";

const SOURCES = {
  description: "Chapters from the video's description.",
  computed: "Chapters found where the talk changes topic.",
  model: "Chapters found where the talk changes topic, titled by the language model.",
};

function chapterItem(chapter) {
  const link = el(
    "a",
    { href: chapter.url, target: "_blank", rel: "noopener", class: "chapter-link" },
    el("span", { class: "chapter-time", text: clock(chapter.start_seconds) }),
    " ",
    el("span", { class: "chapter-title", text: chapter.title }),
  );
  const summary = chapter.summary ? el("p", { class: "chapter-summary", text: chapter.summary }) : null;
  return el("li", {}, link, summary);
}

function outlineParts(outline) {
  const parts = [];
  if (outline.summary) parts.push(el("p", { class: "outline-summary", text: outline.summary }));
  if (!outline.chapters.length) {
    parts.push(el("p", { class: "empty", text: "No chapters: these captions have no timing." }));
    return parts;
  }
  if (SOURCES[outline.source]) parts.push(el("p", { class: "hint", text: SOURCES[outline.source] }));
  parts.push(el("ol", { class: "chapters" }, ...outline.chapters.map(chapterItem)));
  return parts;
}

/** The "Chapters" button of a video's row and the region it opens (hidden until then). */
export function chapterOutline(transcript, title) {
  const region = el("section", {
    id: `outline-${transcript.id}`,
    class: "outline",
    "aria-label": `Chapters of ${title}`,
    hidden: true,
  });
  const button = el("button", {
    type: "button",
    class: "quiet",
    text: "Chapters",
    "aria-label": `Chapters of ${title}`,
    "aria-expanded": "false",
    "aria-controls": region.id,
  });
  let loaded = false;
  async function load() {
    region.replaceChildren(el("p", { class: "hint", role: "status", text: "Finding the chapters…" }));
    try {
      region.replaceChildren(...outlineParts(await call(`/transcripts/${transcript.id}/chapters`)));
      loaded = true;
    } catch (error) {
      const box = el("div", { class: "problem", role: "alert" });
      region.replaceChildren(box);
      showProblem(box, error); // closing and opening it again asks again
    }
  }
  button.addEventListener("click", () => {
    const opening = region.hidden;
    region.hidden = !opening;
    button.setAttribute("aria-expanded", String(opening));
    if (opening && !loaded) load();
  });
  return { button, region };
}
