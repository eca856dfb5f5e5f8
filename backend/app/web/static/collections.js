// Collections: a playlist's or a channel's videos fetched one by one. Each collection shows a
// bar that moves live from its event stream while videos are pending, its failed videos with
// their reasons on demand, and buttons to list it again (refresh) and to delete it.

import { call, request, serverSentEvents } from "./api.js";
import { clearProblem, el, shortDate, showProblem, watchUrl, whileBusy } from "./dom.js";
import { PagedList } from "./pager.js";

const form = document.getElementById("collection-form");
const urlField = document.getElementById("collection-url");
const nameField = document.getElementById("collection-name");
const box = document.getElementById("collections");
const list = document.getElementById("collection-list");
const problem = document.getElementById("collections-problem");

// A browser opens at most six connections to a server (HTTP/1.1): streams beyond these wait
// their turn, so that the page's other requests always find a connection.
const MAX_STREAMS = 3;
const KINDS = { playlist: "Playlist", channel: "Channel", videos: "Links" };

const shown = new Map(); // collection id → the parts of its row that change
const streams = new Map(); // collection id → the AbortController of its event stream
const waiting = []; // collection ids to follow once a stream ends
let videosAdded = () => {};

/** 42 → "42 s", 300 → "5 min", 4000 → "1 h 7 min". */
function duration(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

function progressText(progress) {
  if (!progress.total) return "No videos listed.";
  const parts = [`${progress.done + progress.failed} of ${progress.total} videos`];
  if (progress.failed) parts.push(`${progress.failed} failed`);
  if (progress.ready) parts.push("finished");
  else if (progress.eta_seconds !== null) parts.push(`about ${duration(progress.eta_seconds)} left`);
  else parts.push("fetching…");
  return parts.join(" · ");
}

function showProgress(id, progress) {
  const parts = shown.get(id);
  if (!parts) return;
  const text = progressText(progress);
  parts.bar.max = Math.max(progress.total, 1);
  parts.bar.value = progress.done + progress.failed;
  parts.bar.setAttribute("aria-valuetext", text);
  parts.status.textContent = text;
  parts.failedButton.hidden = !progress.failed;
  parts.failedButton.textContent = `Failed videos (${progress.failed})`;
  if (progress.ready && !parts.failures.hidden) showFailures(id);
}

function failureItem(video) {
  return el(
    "li",
    {},
    el("a", { href: watchUrl(video.video_id), target: "_blank", rel: "noopener", text: video.title || video.video_id }),
    el("span", { class: "row-facts", text: ` ${video.video_id}` }),
    el("span", { class: "reason", text: video.reason || "No reason was given." }),
  );
}

async function showFailures(id) {
  const { failures } = shown.get(id);
  try {
    const collection = await call(`/collections/${id}`);
    const failed = collection.videos.filter((video) => video.status === "failed");
    failures.replaceChildren(...failed.map(failureItem));
  } catch (error) {
    showProblem(problem, error);
  }
}

function toggleFailures(id, button) {
  const { failures } = shown.get(id);
  const opening = failures.hidden;
  failures.hidden = !opening;
  button.setAttribute("aria-expanded", String(opening));
  if (opening) showFailures(id);
}

async function refresh(collection, note, button) {
  clearProblem(problem);
  note.textContent = "Listing the videos again…";
  button.disabled = true;
  try {
    const result = await call(`/collections/${collection.id}/refresh`, { method: "POST" });
    const added = result.added;
    note.textContent = added ? `${added} new video${added === 1 ? "" : "s"} added.` : "Nothing new: every video is in already.";
    showProgress(collection.id, result.collection.progress);
    if (!result.collection.progress.ready) follow(collection.id);
  } catch (error) {
    note.textContent = "";
    showProblem(problem, error);
  } finally {
    button.disabled = false;
  }
}

async function remove(collection) {
  if (!window.confirm(`Delete the collection “${collection.name}”? Its videos stay in your library.`)) return;
  clearProblem(problem);
  try {
    await call(`/collections/${collection.id}`, { method: "DELETE" });
    unfollow(collection.id);
    await showCollections();
  } catch (error) {
    showProblem(problem, error);
  }
}

function listingNotes(collection) {
  const notes = [];
  if (collection.listing_truncated) notes.push("It holds more videos than one listing takes: the newest were added.");
  if (collection.listing_error) notes.push(`The listing stopped early: ${collection.listing_error}`);
  return notes.map((text) => el("span", { class: "hint", text }));
}

function collectionRow(collection) {
  const { id, name } = collection;
  const facts = [KINDS[collection.kind] || collection.kind, `added ${shortDate(collection.created_at)}`];
  const bar = el("progress", { class: "bar", "aria-label": `Videos of ${name} fetched` });
  const status = el("span", { class: "status" });
  const note = el("span", { class: "hint", role: "status" });
  const failures = el("ul", { id: `failed-${id}`, class: "failures", "aria-label": `Failed videos of ${name}`, hidden: true });
  const failedButton = el("button", { type: "button", class: "quiet", "aria-expanded": "false", "aria-controls": failures.id });
  failedButton.addEventListener("click", () => toggleFailures(id, failedButton));
  const refreshButton = collection.kind === "videos" ? null : el("button", {
    type: "button", class: "quiet", text: "Refresh", "aria-label": `Refresh ${name}`,
    onclick: (event) => refresh(collection, note, event.currentTarget),
  });
  shown.set(id, { bar, status, failures, failedButton });
  showProgress(id, collection.progress);
  if (!collection.progress.ready) follow(id);
  return el(
    "li",
    { class: "row collection" },
    el("div", { class: "row-main" },
      el("span", { class: "row-title", text: name }),
      el("span", { class: "row-facts", text: facts.join(" · ") }),
      bar, status, note, ...listingNotes(collection)),
    el("div", { class: "actions" },
      failedButton,
      refreshButton,
      el("button", { type: "button", class: "quiet danger", text: "Delete", "aria-label": `Delete ${name}`, onclick: () => remove(collection) })),
    failures,
  );
}

/** Follows the collection's event stream until nothing is pending (or a stream is free). */
function follow(id) {
  if (streams.has(id) || waiting.includes(id)) return;
  if (streams.size >= MAX_STREAMS) waiting.push(id);
  else stream(id);
}

async function stream(id) {
  const controller = new AbortController();
  streams.set(id, controller);
  let done = null;
  try {
    const response = await request(`/collections/${id}/events`, { accept: "text/event-stream", signal: controller.signal });
    for await (const event of serverSentEvents(response)) {
      showProgress(id, event.data);
      if (event.name === "ready") done = event.data.done;
    }
  } catch (error) {
    if (error.name !== "AbortError") showProblem(problem, error);
  } finally {
    streams.delete(id);
    if (waiting.length) follow(waiting.shift());
  }
  if (done) videosAdded(); // its videos are in the library now
}

function unfollow(id) {
  if (streams.has(id)) streams.get(id).abort();
  if (waiting.includes(id)) waiting.splice(waiting.indexOf(id), 1);
}

const collections = new PagedList(list, {
  path: "/collections",
  row: collectionRow,
  more: "Show more collections",
  problem,
});

export async function showCollections() {
  clearProblem(problem);
  try {
    box.hidden = (await collections.reload()) === 0;
  } catch (error) {
    box.hidden = false;
    showProblem(problem, error);
  }
}

async function create() {
  const success = form.querySelector(".success");
  const body = { url: urlField.value.trim() };
  if (nameField.value.trim()) body.name = nameField.value.trim();
  const added = await call("/collections", { method: "POST", json: body });
  form.reset();
  const { total, pending } = added.progress;
  success.textContent = `Added “${added.name}”: ${total} video${total === 1 ? "" : "s"}, ${pending} to fetch.`;
  await showCollections();
}

/** Wires the form; `onVideosAdded` is called when a collection's videos are all in. */
export function setUpCollections(onVideosAdded) {
  videosAdded = onVideosAdded;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    form.querySelector(".success").textContent = "";
    whileBusy(form, create);
  });
}

export function stopCollections() {
  for (const id of [...streams.keys()]) unfollow(id);
  waiting.length = 0;
  shown.clear();
  collections.clear();
  box.hidden = true;
}
