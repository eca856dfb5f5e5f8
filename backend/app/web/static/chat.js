// Chat: conversations (renamed, and limited to chosen videos: scope.js), and answers that
// stream in with citations linking to the moment.

import { ApiProblem, call, request, serverSentEvents } from "./api.js";
import { clearProblem, clock, el, momentLink, showProblem, whileBusy } from "./dom.js";
import { PagedList } from "./pager.js";
import { setUpScope, showScope, stopScope } from "./scope.js";

const conversationList = document.getElementById("conversation-list");
const newButton = document.getElementById("new-conversation");
const heading = document.getElementById("conversation-title");
const messages = document.getElementById("messages");
const empty = document.getElementById("chat-empty");
const form = document.getElementById("ask-form");
const question = document.getElementById("question");
const problem = form.querySelector(".problem");
const renameButton = document.getElementById("rename-conversation");
const renameForm = document.getElementById("rename-form");
const renameField = document.getElementById("rename-title");
const UNTITLED = "New conversation";
const UNSTARTED = { title: null, transcript_ids: null, collection_ids: null };

let current = null; // the conversation on view, or null before its first question
let unstarted = { ...UNSTARTED }; // what is chosen for it until then: sent with that question

function citationLabel(citation) {
  const seconds = citation.moment_seconds ?? citation.start_seconds;
  const when = seconds === null || seconds === undefined ? "" : ` at ${clock(seconds)}`;
  return `Source ${citation.number}: ${citation.title || citation.youtube_video_id}${when}`;
}

/** The answer's text with each [n] a link to its source's moment, then the list of sources. */
function answerParts(message) {
  const metadata = message.metadata || {};
  const citations = new Map((metadata.citations || []).map((c) => [c.number, c]));
  const text = el("div", { class: "text" });
  for (const part of message.content.split(/(\[\d+\])/)) {
    const marker = /^\[(\d+)\]$/.exec(part);
    const citation = marker && citations.get(Number(marker[1]));
    if (citation) {
      const link = momentLink(citation, part);
      link.classList.add("cite");
      link.setAttribute("aria-label", citationLabel(citation));
      text.append(link);
    } else {
      text.append(part);
    }
  }
  const parts = [text];
  if (metadata.partial) parts.push(el("p", { class: "hint", text: "This answer was cut short." }));
  if (citations.size) {
    const items = [...citations.values()].map((c) => el("li", { value: c.number }, momentLink(c)));
    parts.push(el("p", { class: "sources-title", text: "Sources" }), el("ol", { class: "sources" }, ...items));
  }
  return parts;
}

function bubble(role, ...parts) {
  const who = role === "user" ? "You" : "YouTube Talker";
  return el("li", { class: `message from-${role}` }, el("p", { class: "who", text: who }), ...parts);
}

function messageItem(message) {
  if (message.role === "user") return bubble("user", el("div", { class: "text", text: message.content }));
  return bubble("assistant", ...answerParts(message));
}

function showMessages(items) {
  messages.replaceChildren(...items.map(messageItem));
  empty.hidden = items.length > 0;
}

function conversationItem(conversation) {
  const button = el("button", {
    type: "button",
    class: "conversation-button",
    "aria-current": current && current.id === conversation.id ? "true" : null,
    text: conversation.title || UNTITLED,
    onclick: () => open(conversation),
  });
  return el("li", {}, button);
}

const conversations = new PagedList(conversationList, {
  path: "/conversations",
  row: conversationItem,
  more: "Show more conversations",
  problem,
});

// The open conversation's id, kept for this tab: a reload opens it again.
const OPEN_CONVERSATION = "open-conversation";

function setCurrent(conversation) {
  current = conversation;
  if (conversation) sessionStorage.setItem(OPEN_CONVERSATION, conversation.id);
  else sessionStorage.removeItem(OPEN_CONVERSATION);
  const shown = conversation || unstarted;
  heading.textContent = shown.title || UNTITLED;
  closeRename();
  showScope(shown).catch((error) => showProblem(problem, error));
}

/** Renames the conversation or changes its scope: saved at once on one that has started. */
async function change(fields) {
  if (!current) {
    Object.assign(unstarted, fields);
    setCurrent(null);
    return;
  }
  setCurrent(await call(`/conversations/${current.id}`, { method: "PATCH", json: fields }));
  await conversations.reload();
}

function closeRename() {
  renameForm.hidden = true;
  renameButton.setAttribute("aria-expanded", "false");
}

function openRename() {
  clearProblem(renameForm.querySelector(".problem"));
  renameField.value = (current || unstarted).title || "";
  renameForm.hidden = false;
  renameButton.setAttribute("aria-expanded", "true");
  renameField.focus();
}

/** Settles when the opened conversation's messages are shown: a question waits for it. */
let opening = Promise.resolve();

function open(conversation) {
  opening = showConversation(conversation);
  return opening;
}

let openings = 0;

async function showConversation(conversation) {
  const opened = ++openings;
  clearProblem(problem);
  setCurrent(conversation);
  try {
    const page = await call(`/conversations/${conversation.id}/messages?limit=100`);
    if (opened !== openings) return; // another was opened since: its messages are the ones
    showMessages(page.items);
    await conversations.reload();
  } catch (error) {
    showProblem(problem, error);
  }
  question.focus();
}

function startNew() {
  openings += 1; // messages still loading for another conversation are not this one's
  unstarted = { ...UNSTARTED };
  setCurrent(null);
  showMessages([]);
  clearProblem(problem);
  conversations.reload().catch((error) => showProblem(problem, error));
  question.focus();
}

/** Shows the answer as it comes; returns it as stored, or null when the model failed on the way. */
async function streamInto(answer, response) {
  const text = el("div", { class: "text" });
  answer.append(text);
  let stored = null;
  let failed = false;
  for await (const event of serverSentEvents(response)) {
    if (event.name === "delta") {
      text.append(event.data.text);
    } else if (event.name === "done") {
      stored = event.data;
      answer.replaceChildren(answer.firstChild, ...answerParts(stored));
    } else if (event.name === "error") {
      // The model failed: what came is kept (the server stored it too), and the reason shown.
      if (!text.textContent) answer.remove();
      showProblem(problem, new ApiProblem(502, event.data));
      failed = true;
    }
  }
  return failed ? null : stored;
}

async function ask(content) {
  if (!current) setCurrent(await call("/conversations", { method: "POST", json: unstarted }));
  const mine = bubble("user", el("div", { class: "text", text: content }));
  const answer = bubble("assistant");
  answer.setAttribute("aria-busy", "true");
  answer.classList.add("streaming");
  messages.append(mine, answer);
  empty.hidden = true;
  try {
    const response = await request(`/conversations/${current.id}/messages`, {
      method: "POST",
      json: { content },
      accept: "text/event-stream",
    });
    const stored = await streamInto(answer, response);
    // Failed, or not answered while the videos are still being prepared: it waits to be asked again.
    if (!stored || stored.metadata?.preparing) question.value = content;
  } catch (error) {
    mine.remove();
    answer.remove();
    question.value = content; // nothing was lost: ask again once the problem is fixed
    throw error;
  } finally {
    answer.removeAttribute("aria-busy");
    answer.classList.remove("streaming");
  }
  setCurrent(await call(`/conversations/${current.id}`)); // titled by its first question
  await conversations.reload();
}

export async function showChat() {
  clearProblem(problem);
  const listed = conversations.reload().catch((error) => showProblem(problem, error));
  const kept = sessionStorage.getItem(OPEN_CONVERSATION);
  const before = openings;
  // Gone meanwhile (deleted elsewhere): start anew rather than show its error.
  const conversation = !current && kept ? await call(`/conversations/${kept}`).catch(() => null) : null;
  if (openings !== before) {
    // The person opened or started another meanwhile: theirs wins.
  } else if (conversation) {
    open(conversation); // not awaited: the list need not wait for its messages
  } else {
    setCurrent(current);
  }
  await listed;
}

function setUpRename() {
  renameButton.addEventListener("click", () => (renameForm.hidden ? openRename() : closeRename()));
  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(renameForm, async () => {
      await change({ title: renameField.value.trim() || null });
      renameButton.focus();
    });
  });
  document.getElementById("rename-cancel").addEventListener("click", () => {
    closeRename();
    renameButton.focus();
  });
}

export function setUpChat() {
  setUpRename();
  setUpScope(change);
  newButton.addEventListener("click", startNew);
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = question.value.trim();
    if (!content) {
      problem.replaceChildren(el("p", { text: "Type a question first." }));
      problem.hidden = false;
      question.focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    clearProblem(problem);
    button.disabled = true;
    question.value = "";
    try {
      // Asked while the conversation was still loading: its messages would replace the answer.
      await opening;
      await ask(content);
    } catch (error) {
      showProblem(problem, error);
    } finally {
      button.disabled = false;
      question.focus();
    }
  });
}

export function stopChat() {
  unstarted = { ...UNSTARTED };
  current = null;
  sessionStorage.removeItem(OPEN_CONVERSATION);
  heading.textContent = UNTITLED;
  closeRename();
  stopScope();
  showMessages([]);
  conversations.clear();
}
