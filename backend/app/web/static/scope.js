// A conversation's scope: the videos and collections its answers may cite, shown as chips and
// chosen with checkboxes. A change is handed to chat.js, which keeps it for a conversation not
// started yet or saves it (PATCH) on the one on view.

import { call } from "./api.js";
import { clearProblem, el, showProblem, whileBusy } from "./dom.js";
import { PagedList } from "./pager.js";

const chips = document.getElementById("scope-chips");
const chooseButton = document.getElementById("choose-scope");
const form = document.getElementById("scope-form");
const problem = form.querySelector(".problem");
const chipProblem = document.getElementById("scope-problem");
const noCollections = document.getElementById("scope-no-collections");
const noVideos = document.getElementById("scope-no-videos");

const KINDS = { collection: "Collection", transcript: "Video" };
const names = new Map(); // id → what its chip says, from the lists and the API
let scope = { transcript_ids: null, collection_ids: null };
let chosen = { transcript: new Set(), collection: new Set() }; // the checkboxes, while open
let change = async () => {};

function videoName(transcript) {
  return transcript.title || `Video ${transcript.youtube_video_id}`;
}

function choice(kind, id, name) {
  names.set(id, name);
  const box = el("input", { type: "checkbox", value: id, checked: chosen[kind].has(id) });
  box.addEventListener("change", () => (box.checked ? chosen[kind].add(id) : chosen[kind].delete(id)));
  return el("li", {}, el("label", { class: "choice" }, box, el("span", { text: name })));
}

const videoChoices = new PagedList(document.getElementById("scope-videos"), {
  path: "/transcripts",
  row: (transcript) => choice("transcript", transcript.id, videoName(transcript)),
  more: "Show more videos",
  problem,
});
const collectionChoices = new PagedList(document.getElementById("scope-collections"), {
  path: "/collections",
  row: (collection) => choice("collection", collection.id, collection.name),
  more: "Show more collections",
  problem,
});

/** The name of a chosen video or collection the lists have not shown yet. */
async function lookUp(kind, id) {
  if (names.has(id)) return;
  try {
    const found = await call(kind === "collection" ? `/collections/${id}` : `/transcripts/${id}`);
    names.set(id, kind === "collection" ? found.name : videoName(found));
  } catch {
    names.set(id, kind === "collection" ? "A deleted collection" : "A deleted video");
  }
}

function scopeOf(kind) {
  return (kind === "collection" ? scope.collection_ids : scope.transcript_ids) || [];
}

/** The scope without one id; none left means the whole library again. */
function without(kind, id) {
  const keep = (ids) => ids.filter((other) => other !== id);
  const transcripts = kind === "transcript" ? keep(scopeOf(kind)) : scopeOf("transcript");
  const collections = kind === "collection" ? keep(scopeOf(kind)) : scopeOf("collection");
  return scoped(transcripts, collections);
}

function scoped(transcripts, collections) {
  return { transcript_ids: transcripts.length ? transcripts : null, collection_ids: collections.length ? collections : null };
}

function chip(kind, id) {
  const name = names.get(id);
  const remove = el("button", {
    type: "button",
    class: "chip-remove",
    text: "×",
    "aria-label": `Remove ${name} from the scope`,
    onclick: () => {
      clearProblem(chipProblem);
      change(without(kind, id)).catch((error) => showProblem(chipProblem, error));
    },
  });
  return el("li", { class: "chip" }, el("span", { class: "chip-kind", text: KINDS[kind] }), el("span", { class: "chip-name", text: name }), remove);
}

async function showChips() {
  const kinds = ["collection", "transcript"];
  await Promise.all(kinds.flatMap((kind) => scopeOf(kind).map((id) => lookUp(kind, id))));
  const items = kinds.flatMap((kind) => scopeOf(kind).map((id) => chip(kind, id)));
  chips.replaceChildren(...(items.length ? items : [el("li", { class: "chip all", text: "All your videos" })]));
}

/** Shows the scope of the conversation on view (`{transcript_ids, collection_ids}`). */
export async function showScope(conversation) {
  scope = { transcript_ids: conversation.transcript_ids, collection_ids: conversation.collection_ids };
  await showChips();
}

function close() {
  form.hidden = true;
  chooseButton.setAttribute("aria-expanded", "false");
  videoChoices.clear();
  collectionChoices.clear();
}

async function open() {
  clearProblem(problem);
  chosen = { transcript: new Set(scopeOf("transcript")), collection: new Set(scopeOf("collection")) };
  form.hidden = false;
  chooseButton.setAttribute("aria-expanded", "true");
  try {
    const [collections, videos] = await Promise.all([collectionChoices.reload(), videoChoices.reload()]);
    noCollections.hidden = collections > 0;
    noVideos.hidden = videos > 0;
  } catch (error) {
    showProblem(problem, error);
  }
  const first = form.querySelector("input");
  if (first) first.focus();
}

async function save(next) {
  await change(next);
  close();
  chooseButton.focus();
}

/** Wires the chooser; `onChange(scope)` saves a new scope and shows it (with showScope). */
export function setUpScope(onChange) {
  change = onChange;
  chooseButton.addEventListener("click", () => (form.hidden ? open() : close()));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(form, () => save(scoped([...chosen.transcript], [...chosen.collection])));
  });
  document.getElementById("scope-all").addEventListener("click", () => {
    whileBusy(form, () => save(scoped([], [])));
  });
  document.getElementById("scope-cancel").addEventListener("click", () => {
    close();
    chooseButton.focus();
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close();
      chooseButton.focus();
    }
  });
}

export function stopScope() {
  close();
  clearProblem(chipProblem);
  names.clear();
  chips.replaceChildren();
}
