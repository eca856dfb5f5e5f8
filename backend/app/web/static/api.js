// Talking to the JSON API: the token, requests, the one error shape, server-sent events.

// The token is kept in sessionStorage: a reload of the tab keeps you signed in, while closing
// the tab forgets it, and no other tab or later visit inherits it (localStorage would keep it
// on disk for anyone using the browser later). Only the page's own scripts can read it: its
// Content-Security-Policy runs no inline or foreign script.
const TOKEN_KEY = "youtube-talker.token";
const API_ROOT = "/api/v1";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  start: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  end: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An error answer from the API (its one shape), or a failure to reach it (status 0). */
export class ApiProblem extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered with status ${status}.`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.details = Array.isArray(error.details) ? error.details : [];
    this.requestId = error.request_id || null;
  }
}

let sessionEnded = () => {};

/** Called when the API refuses the token (expired or revoked) on any request. */
export function whenSessionEnds(handler) {
  sessionEnded = handler;
}

function requestHeaders(json, accept) {
  const headers = {};
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (accept) headers.Accept = accept;
  return headers;
}

/** The response to one API call; any answer but 2xx is thrown as an ApiProblem. A call given
 *  an AbortSignal that fires rejects with the browser's AbortError, not as a problem. */
export async function request(path, { method = "GET", json, form, accept, signal } = {}) {
  const hadToken = Boolean(session.token());
  const body = json !== undefined ? JSON.stringify(json) : form;
  let response;
  try {
    response = await fetch(API_ROOT + path, {
      method,
      headers: requestHeaders(json, accept),
      body,
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiProblem(0, {
      error: { code: "network", message: "The server could not be reached. Check that it is running, then try again." },
    });
  }
  if (response.ok) return response;
  const problem = new ApiProblem(response.status, await response.json().catch(() => null));
  if (response.status === 401 && hadToken) sessionEnded(problem);
  throw problem;
}

/** The parsed JSON answer of one API call (null for 204 No Content). */
export async function call(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
}

/** The server-sent events of a streamed response, as {name, data} objects, as they arrive.
 *  (EventSource can neither send a POST with a body nor the Authorization header, so the
 *  stream is read here.) */
export async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
  }
}
