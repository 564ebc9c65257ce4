// Game text arrives with our colour markup rendered as ANSI SGR codes (ESC [ ... m), exactly as
// telnet clients get it. This turns it into DOM nodes: text only ever becomes text nodes
// (textContent), never HTML, so nothing a player types can turn into markup on the page.

const SGR = /\x1b\[([0-9;]*)m/g;
// Any other escape sequence or control character is dropped.
const OTHER = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;
const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

/** Append ``text`` (with SGR codes) to ``parent`` as spans; returns nothing. */
export function appendAnsi(parent, text) {
  let fg = null;
  let bold = false;
  let last = 0;
  const flush = (chunk) => {
    const clean = chunk.replace(OTHER, "");
    if (!clean) return;
    if (fg === null && !bold) {
      parent.appendChild(document.createTextNode(clean));
      return;
    }
    const span = document.createElement("span");
    if (fg !== null) span.className = `fg-${NAMES[fg]}${bold ? " bright" : ""}`;
    else span.className = "bright";
    span.textContent = clean;
    parent.appendChild(span);
  };
  for (const m of text.matchAll(SGR)) {
    flush(text.slice(last, m.index));
    last = m.index + m[0].length;
    const codes = m[1] === "" ? [0] : m[1].split(";").map(Number);
    for (const code of codes) {
      if (code === 0) { fg = null; bold = false; }
      else if (code === 1) bold = true;
      else if (code === 22) bold = false;
      else if (code >= 30 && code <= 37) fg = code - 30;
      else if (code === 39) fg = null;
      else if (code >= 90 && code <= 97) { fg = code - 90; bold = true; }
    }
  }
  flush(text.slice(last));
}

/** The text without any escape codes (for screen-reader summaries and tests). */
export function stripAnsi(text) {
  return text.replace(SGR, "").replace(OTHER, "");
}
