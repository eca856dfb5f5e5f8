// The page's entry point: who is signed in, and which section is on view (from the URL's #).

import { session, whenSessionEnds } from "./api.js";
import { currentUser, setUpSignIn, signOut } from "./auth.js";
import { setUpChat, showChat, stopChat } from "./chat.js";
import { setUpCollections, showCollections, stopCollections } from "./collections.js";
import { setUpDrafts, showDrafts, stopDrafts } from "./drafts.js";
import { loadTranscripts, setUpLibrary, showLibrary, stopLibrary } from "./library.js";
import { setUpSearch, stopSearch } from "./search.js";
import { setUpUsage, showUsage } from "./usage.js";

const SECTIONS = {
  library: () => Promise.all([showLibrary(), showCollections()]),
  chat: showChat,
  search: async () => {},
  drafts: showDrafts,
  usage: showUsage,
};
const nav = document.getElementById("sections");
const account = document.getElementById("account");
const notice = document.getElementById("notice");
const main = document.getElementById("main");

function say(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function section() {
  const name = location.hash.slice(1);
  return name in SECTIONS ? name : "library";
}

function showOnly(id) {
  for (const panel of main.querySelectorAll(".panel")) panel.hidden = panel.id !== id;
  for (const link of nav.querySelectorAll("a")) {
    if (link.hash === `#${id}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  if (!session.token()) return;
  const name = section();
  showOnly(name);
  main.focus(); // at once, not after the section's data: a Tab pressed meanwhile lands in it
  await SECTIONS[name]();
}

function showSignIn(message) {
  stopLibrary();
  stopCollections();
  stopChat();
  stopSearch();
  stopDrafts();
  nav.hidden = true;
  account.hidden = true;
  showOnly("sign-in");
  say(message);
  document.getElementById("auth-email").focus();
}

async function signedIn() {
  say("");
  const user = await currentUser();
  document.getElementById("account-email").textContent = user.email;
  account.hidden = false;
  nav.hidden = false;
  await route();
}

function start() {
  setUpSignIn(signedIn);
  setUpLibrary();
  setUpCollections(loadTranscripts);
  setUpChat();
  setUpSearch();
  setUpDrafts();
  setUpUsage();
  whenSessionEnds(() => {
    session.end();
    showSignIn("Your session has ended: sign in again.");
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await signOut().catch(() => {});
    showSignIn("You are signed out.");
  });
  window.addEventListener("hashchange", route);
  if (session.token()) signedIn().catch(() => showSignIn(""));
  else showSignIn("");
}

start();
