// Usage: language-model tokens per day.

import { call } from "./api.js";
import { clearProblem, el, showProblem } from "./dom.js";

const days = document.getElementById("usage-days");
const rows = document.getElementById("usage-rows");
const total = document.getElementById("usage-total");
const problem = document.querySelector("#usage .problem");
const number = new Intl.NumberFormat();

function dayRow(day) {
  const cells = [day.calls, day.prompt_tokens, day.completion_tokens, day.total_tokens];
  return el("tr", {}, el("th", { scope: "row", text: day.day }), ...cells.map((n) => el("td", { text: number.format(n) })));
}

export async function showUsage() {
  clearProblem(problem);
  try {
    const report = await call(`/usage?days=${days.value}`);
    rows.replaceChildren(...[...report.daily].reverse().map(dayRow));
    const calls = report.daily.reduce((sum, day) => sum + day.calls, 0);
    total.textContent = `${number.format(report.total_tokens)} tokens in ${number.format(calls)} call${calls === 1 ? "" : "s"} over the last ${report.days} days.`;
  } catch (error) {
    showProblem(problem, error);
  }
}

export function setUpUsage() {
  days.addEventListener("change", showUsage);
}
