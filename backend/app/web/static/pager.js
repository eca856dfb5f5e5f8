// Lists that load as you scroll: the API's pages (`limit` and `offset`) one after another, the
// next asked for when the list's last item, a "Show more" button, comes into view or is pressed.

import { call } from "./api.js";
import { el, showProblem } from "./dom.js";

export const PAGE_SIZE = 20;
// The next page is asked for this far before the end of the list is on screen.
const AHEAD = "400px";

/** A list element (`ul` or `ol`) showing every item of the paged API `path`, each drawn by
 *  `row(item)`. `more` names what the button shows more of ("Show more videos"); a page that
 *  could not be loaded is said in `problem` (a role="alert" element). */
export class PagedList {
  constructor(list, { path, row, more, problem }) {
    this.list = list;
    this.path = path;
    this.row = row;
    this.problem = problem;
    this.button = el("button", { type: "button", class: "quiet", text: more, onclick: () => this.next() });
    this.end = el("li", { class: "more" }, this.button);
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.next();
      },
      { rootMargin: AHEAD },
    );
    this.reset();
  }

  reset() {
    this.generation = (this.generation || 0) + 1; // a page asked for before a reset is dropped
    this.offset = 0;
    this.total = 0;
    this.ids = new Set();
    this.loading = false;
    this.observer.disconnect();
  }

  /** The first page again, in place of every row shown; resolves to the total. */
  async reload() {
    this.reset();
    const generation = this.generation;
    const page = await this.fetch(0);
    if (generation !== this.generation) return this.total;
    this.list.replaceChildren();
    this.show(page);
    return this.total;
  }

  /** Empties the list (signed out). */
  clear() {
    this.reset();
    this.list.replaceChildren();
  }

  async next() {
    if (this.loading || this.offset >= this.total) return;
    const generation = this.generation;
    this.loading = true;
    this.button.disabled = true;
    this.button.setAttribute("aria-busy", "true");
    try {
      const page = await this.fetch(this.offset);
      if (generation === this.generation) this.show(page);
    } catch (error) {
      showProblem(this.problem, error);
    } finally {
      if (generation === this.generation) this.loading = false;
      this.button.disabled = false;
      this.button.removeAttribute("aria-busy");
    }
  }

  fetch(offset) {
    const joiner = this.path.includes("?") ? "&" : "?";
    return call(`${this.path}${joiner}limit=${PAGE_SIZE}&offset=${offset}`);
  }

  show(page) {
    // An item that moved down a page (one was added on top meanwhile) is shown once.
    const fresh = page.items.filter((item) => !this.ids.has(item.id));
    for (const item of fresh) this.ids.add(item.id);
    this.end.remove();
    this.list.append(...fresh.map(this.row));
    this.offset += page.items.length;
    this.total = page.total;
    if (this.offset < this.total && page.items.length) {
      this.list.append(this.end);
      // Observing afresh reports at once whether the end is still in view (a short page).
      this.observer.unobserve(this.end);
      this.observer.observe(this.end);
    }
  }
}
