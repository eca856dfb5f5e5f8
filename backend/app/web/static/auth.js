// Signing up, in and out.

import { call, session } from "./api.js";
import { clearProblem, whileBusy } from "./dom.js";

const form = document.getElementById("auth-form");
const title = document.getElementById("auth-title");
const submit = document.getElementById("auth-submit");
const switcher = document.getElementById("auth-switch");
const password = document.getElementById("auth-password");
const hint = document.getElementById("password-hint");

const MODES = {
  signIn: { title: "Sign in", submit: "Sign in", switcher: "New here? Create an account", autocomplete: "current-password" },
  signUp: { title: "Create an account", submit: "Create account", switcher: "Have an account? Sign in", autocomplete: "new-password" },
};
let mode = "signIn";

function setMode(next) {
  mode = next;
  clearProblem(document.getElementById("auth-error")); // the other form's error is not this one's
  const labels = MODES[mode];
  title.textContent = labels.title;
  submit.textContent = labels.submit;
  switcher.textContent = labels.switcher;
  password.autocomplete = labels.autocomplete;
  hint.hidden = mode !== "signUp";
  if (mode === "signUp") password.minLength = 10;
  else password.removeAttribute("minlength");
}

async function signIn(credentials) {
  const login = await call("/auth/login", { method: "POST", json: credentials });
  session.start(login.access_token);
}

/** Wires the form; `signedIn` is called once a token is held. */
export function setUpSignIn(signedIn) {
  switcher.addEventListener("click", () => setMode(mode === "signIn" ? "signUp" : "signIn"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const credentials = { email: form.email.value.trim(), password: password.value };
    whileBusy(form, async () => {
      if (mode === "signUp") await call("/auth/register", { method: "POST", json: credentials });
      await signIn(credentials);
      form.reset();
      setMode("signIn");
      await signedIn();
    });
  });
}

export async function signOut() {
  try {
    await call("/auth/logout", { method: "POST" });
  } finally {
    session.end();
  }
}

export function currentUser() {
  return call("/auth/me");
}
