// The library: fetch a video's captions by link (a background job), upload a caption file,
// list transcripts (with their chapters) and delete them.

import { call } from "./api.js";
import { chapterOutline } from "./chapters.js";
import { clearProblem, clock, el, shortDate, showProblem, watchUrl, whileBusy } from "./dom.js";
import { PagedList } from "./pager.js";

const POLL_MS = 1500;
const ingestForm = document.getElementById("ingest-form");
const uploadForm = document.getElementById("upload-form");
const jobsBox = document.getElementById("jobs");
const jobList = document.getElementById("job-list");
const list = document.getElementById("transcript-list");
const empty = document.getElementById("library-empty");
const problem = document.getElementById("library-problem");

// Jobs followed on this page, by id: the queued and running ones, and those that failed here.
const followed = new Map();
let polling = null;

const STATUS_TEXT = {
  queued: "Waiting to fetch the captions…",
  running: "Fetching the captions…",
  done: "Ready: the video is in your library.",
};

function jobText(job) {
  if (job.status === "failed") return `Could not fetch the captions: ${job.error || "no reason given"}`;
  if (job.status === "queued" && job.error) {
    return `Will try again (attempt ${job.attempts + 1} of ${job.max_attempts}): ${job.error}`;
  }
  return STATUS_TEXT[job.status];
}

function retry(job) {
  const again = async () => {
    clearProblem(problem);
    followed.delete(job.id);
    try {
      await startIngest(job.youtube_video_id);
    } catch (error) {
      showProblem(problem, error);
    }
  };
  return el("button", { type: "button", class: "quiet", text: "Try again", onclick: again });
}

function uploadInstead(job) {
  return el("button", {
    type: "button",
    class: "quiet",
    text: "Upload captions instead",
    onclick: () => {
      followed.delete(job.id);
      renderJobs();
      uploadForm.video.value = job.youtube_video_id;
      uploadForm.file.focus();
    },
  });
}

function jobRow(job) {
  const actions = job.status === "failed" ? el("div", { class: "actions" }, retry(job), uploadInstead(job)) : null;
  return el(
    "li",
    { class: `row job job-${job.status}` },
    el("div", { class: "row-main" },
      el("span", { class: "row-title", text: `Video ${job.youtube_video_id}` }),
      el("span", { class: `status status-${job.status}`, text: jobText(job) })),
    actions,
  );
}

function renderJobs() {
  jobList.replaceChildren(...[...followed.values()].map(jobRow));
  jobsBox.hidden = followed.size === 0;
}

async function pollJobs() {
  polling = null;
  const active = [...followed.values()].filter((job) => job.status === "queued" || job.status === "running");
  let finished = false;
  for (const job of active) {
    try {
      const now = await call(`/jobs/${job.id}`);
      followed.set(job.id, now);
      finished ||= now.status === "done";
    } catch (error) {
      showProblem(problem, error);
      return;
    }
  }
  if (finished) await loadTranscripts();
  forgetFinished();
  renderJobs();
  keepPolling();
}

function forgetFinished() {
  // A finished job stays on view for one round, saying so, then makes way.
  for (const job of followed.values()) {
    if (job.status === "done" && job.shown) followed.delete(job.id);
    else if (job.status === "done") job.shown = true;
  }
}

function keepPolling() {
  const waiting = [...followed.values()].some((job) => job.status !== "failed");
  if (waiting && polling === null) polling = setTimeout(pollJobs, POLL_MS);
}

async function startIngest(video) {
  const job = await call("/transcripts/ingest", { method: "POST", json: { video } });
  followed.set(job.id, job);
  renderJobs();
  if (job.status === "done") await loadTranscripts();
  keepPolling();
}

// A language code as the reader's own words name it ("es" reads "Spanish" in English).
const LANGUAGE_NAMES = new Intl.DisplayNames([navigator.language || "en"], { type: "language" });

function languageName(code) {
  try {
    return LANGUAGE_NAMES.of(code) || code;
  } catch {
    return code;
  }
}

function transcriptRow(transcript) {
  const facts = [transcript.youtube_video_id, shortDate(transcript.created_at)];
  if (transcript.duration) facts.splice(1, 0, clock(transcript.duration));
  if (transcript.language) facts.splice(facts.length - 1, 0, languageName(transcript.language));
  if (transcript.metadata && transcript.metadata.source === "upload") facts.push("uploaded");
  const title = transcript.title || `Video ${transcript.youtube_video_id}`;
  const chapters = chapterOutline(transcript, title);
  return el(
    "li",
    { class: "row" },
    el("div", { class: "row-main" },
      el("a", { class: "row-title", href: watchUrl(transcript.youtube_video_id), target: "_blank", rel: "noopener", text: title }),
      el("span", { class: "row-facts", text: facts.join(" · ") })),
    el("div", { class: "actions" },
      chapters.button,
      el("button", { type: "button", class: "quiet danger", "aria-label": `Delete ${title}`, text: "Delete", onclick: () => remove(transcript, title) })),
    chapters.region,
  );
}

async function remove(transcript, title) {
  if (!window.confirm(`Delete “${title}” and everything found in it?`)) return;
  clearProblem(problem);
  try {
    await call(`/transcripts/${transcript.id}`, { method: "DELETE" });
    await loadTranscripts();
  } catch (error) {
    showProblem(problem, error);
  }
}

const videos = new PagedList(list, {
  path: "/transcripts",
  row: transcriptRow,
  more: "Show more videos",
  problem,
});

/** The first page of videos again (after one is added or deleted). */
export async function loadTranscripts() {
  try {
    empty.hidden = (await videos.reload()) > 0;
  } catch (error) {
    showProblem(problem, error);
  }
}

async function loadActiveJobs() {
  const page = await call("/jobs?limit=20");
  for (const job of page.items) {
    if (job.kind === "youtube_ingest" && (job.status === "queued" || job.status === "running")) followed.set(job.id, job);
  }
  renderJobs();
  keepPolling();
}

export async function showLibrary() {
  clearProblem(problem);
  await loadTranscripts();
  try {
    await loadActiveJobs();
  } catch (error) {
    showProblem(problem, error);
  }
}

export function setUpLibrary() {
  ingestForm.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(ingestForm, async () => {
      await startIngest(ingestForm.video.value.trim());
      ingestForm.reset();
    });
  });
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const success = uploadForm.querySelector(".success");
    success.textContent = "";
    whileBusy(uploadForm, async () => {
      const form = new FormData(uploadForm);
      if (!String(form.get("title")).trim()) form.delete("title");
      const added = await call("/transcripts/upload", { method: "POST", form });
      uploadForm.reset();
      const name = added.title || `Video ${added.youtube_video_id}`;
      success.textContent = `Added “${name}”: ${added.chunk_count} passage${added.chunk_count === 1 ? "" : "s"} to ask about.`;
      await loadTranscripts();
    });
  });
}

export function stopLibrary() {
  videos.clear();
  clearTimeout(polling);
  polling = null;
  followed.clear();
  renderJobs();
}
