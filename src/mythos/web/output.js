// The scrolling output pane: game text in colour, the player's own commands, and notes from the
// page itself (connection lost, reconnected). It keeps the last MAX_LINES lines, follows new text
// unless the player has scrolled back to read, and is a role="log" live region, so screen
// readers announce what arrives.

import { appendAnsi } from "./ansi.js";

export const MAX_LINES = 4000;

export class Output {
  constructor(pane, moreButton) {
    this.pane = pane;
    this.more = moreButton;
    this.lines = 0;
    this.pane.addEventListener("scroll", () => {
      if (this.atBottom()) this.more.hidden = true;
    });
    this.more.addEventListener("click", () => this.toBottom());
  }

  atBottom() {
    const p = this.pane;
    return p.scrollHeight - p.scrollTop - p.clientHeight < 40;
  }

  toBottom() {
    this.pane.scrollTop = this.pane.scrollHeight;
    this.more.hidden = true;
  }

  _add(block, lines) {
    const follow = this.atBottom();
    this.pane.appendChild(block);
    this.lines += lines;
    while (this.lines > MAX_LINES && this.pane.firstChild) {
      const first = this.pane.firstChild;
      this.lines -= Number(first.dataset.lines || 1);
      first.remove();
    }
    if (follow) this.toBottom();
    else this.more.hidden = false;
  }

  /** Game text from the server; with ``prompt`` its last line is the prompt. */
  text(text, prompt = false) {
    const block = document.createElement("div");
    block.className = "chunk";
    let body = text.replace(/\r/g, "");
    let promptText = "";
    if (prompt) {
      const cut = body.lastIndexOf("\n");
      promptText = body.slice(cut + 1);
      body = body.slice(0, cut + 1);
    }
    if (body.endsWith("\n")) body = body.slice(0, -1);
    if (body) appendAnsi(block, body);
    if (promptText.trim()) {
      // Only the newest prompt is shown (the vitals panel has the numbers): the older ones
      // are hidden by the style sheet, their line break with them.
      const p = document.createElement("span");
      p.className = "prompt";
      if (body) p.appendChild(document.createTextNode("\n"));
      appendAnsi(p, promptText);
      block.appendChild(p);
    }
    const lines = (body.match(/\n/g) || []).length + 1;
    block.dataset.lines = String(lines);
    this._add(block, lines);
  }

  /** What the player typed, shown as they sent it. */
  echo(line) {
    const block = document.createElement("div");
    block.className = "chunk echo";
    block.textContent = line;
    block.dataset.lines = "1";
    this._add(block, 1);
  }

  /** A note from the page itself (kind: "info", "warn" or "error"). */
  note(message, kind = "info") {
    const block = document.createElement("div");
    block.className = `chunk note ${kind}`;
    block.textContent = message;
    block.dataset.lines = "1";
    this._add(block, 1);
  }

  clear() {
    this.pane.replaceChildren();
    this.lines = 0;
  }
}
