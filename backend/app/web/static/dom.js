// Small helpers for building the page's elements and showing what went wrong.

import { ApiProblem } from "./api.js";

/** A new element: `props` are attributes (`text` sets its text, `on…` adds a listener). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Shows an error in `box` (a role="alert" element): the API's message, what each field needs,
 *  and the request id to quote. */
export function showProblem(box, error) {
  if (!(error instanceof ApiProblem)) console.error(error);
  const message = error instanceof ApiProblem ? error.message : `Something went wrong: ${error.message}`;
  const fields = (error.details || []).filter((detail) => detail.field);
  const said = (detail) => `${fieldName(detail.field)}: ${detail.message}`;
  const parts = [el("p", { text: message })];
  if (error.code === "validation_error" && fields.length === 1) {
    // The message only repeats the one field's problem, in the API's words: say it once.
    parts[0] = el("p", { text: said(fields[0]) });
  } else if (fields.length) {
    parts.push(el("ul", {}, ...fields.map((d) => el("li", { text: said(d) }))));
  }
  if (error.requestId) parts.push(el("p", { class: "reference", text: `Reference: ${error.requestId}` }));
  box.replaceChildren(...parts);
  box.hidden = false;
}

export function clearProblem(box) {
  box.hidden = true;
  box.replaceChildren();
}

function fieldName(field) {
  return field.replace(/^(body|query|path)\./, "");
}

/** Runs `action` with the form's submit button disabled, showing any error in the form's
 *  alert box. */
export async function whileBusy(form, action) {
  const button = form.querySelector("button[type=submit]");
  const box = form.querySelector(".problem");
  if (box) clearProblem(box);
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    if (box) showProblem(box, error);
    else throw error;
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/** 83 → "1:23", 3723 → "1:02:03". */
export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = String(whole % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

/** The video on YouTube, at `seconds` when known. */
export function watchUrl(videoId, seconds) {
  const url = `https://www.youtube.com/watch?v=${encodeURIComponent(videoId)}`;
  return seconds === null || seconds === undefined ? url : `${url}&t=${Math.floor(seconds)}s`;
}

/** A link to a cited passage: the title and the moment, opening in a new tab. */
export function momentLink(source, text) {
  const seconds = source.moment_seconds ?? source.start_seconds;
  const title = source.title || source.youtube_video_id;
  const when = seconds === null || seconds === undefined ? "" : ` at ${clock(seconds)}`;
  return el("a", {
    href: watchUrl(source.youtube_video_id, seconds),
    target: "_blank",
    rel: "noopener",
    text: text ?? `${title}${when}`,
  });
}

export function shortDate(iso) {
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}
