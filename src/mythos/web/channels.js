// Channel tabs over the output pane, from the GMCP Comm.Channel.List and Comm.Channel.Text
// messages (docs/PROTOCOL.md). "All" is the game text as it comes and stays the default; a
// channel's tab shows only that channel's lines (plain text), and counts the ones not yet read.

export const MAX_CHANNEL_LINES = 500;

export class Channels {
  /** bar: the tablist; all: the "All" tab; pane: the channel log; main: the output pane. */
  constructor(bar, all, pane, main, onSwitch) {
    this.bar = bar;
    this.all = all;
    this.pane = pane;
    this.main = main;
    this.onSwitch = onSwitch;
    this.me = "";
    this.active = ""; // "" is All
    this.channels = new Map(); // name -> {caption, on, lines: [], unread, tab}
    all.addEventListener("click", () => this.show(""));
    bar.addEventListener("keydown", (ev) => this._keys(ev));
  }

  reset(me) {
    this.me = String(me).toLowerCase();
    for (const ch of this.channels.values()) { ch.lines = []; ch.unread = 0; }
    this.show("");
    this._renderTabs();
  }

  _channel(name, caption) {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = { caption: caption || name.charAt(0).toUpperCase() + name.slice(1), on: true,
        lines: [], unread: 0, tab: null };
      this.channels.set(name, ch);
    }
    return ch;
  }

  /** Comm.Channel.List: the channels this player hears, in order. */
  list(data) {
    if (!Array.isArray(data)) return;
    const order = new Map();
    for (const c of data) {
      if (!c || typeof c.name !== "string") continue;
      const ch = this._channel(c.name, String(c.caption || ""));
      if (c.caption) ch.caption = String(c.caption);
      ch.on = c.on !== false;
      order.set(c.name, ch);
    }
    // Channels no longer listed but with lines stay, after the listed ones.
    for (const [name, ch] of this.channels) if (!order.has(name) && ch.lines.length) order.set(name, ch);
    this.channels = order;
    if (this.active && !order.has(this.active)) this.show("");
    this._renderTabs();
  }

  /** Comm.Channel.Text: one line heard on a channel. */
  text(data) {
    if (!data || typeof data.channel !== "string" || typeof data.text !== "string") return;
    const known = this.channels.has(data.channel);
    const ch = this._channel(data.channel);
    ch.lines.push(data.text);
    if (ch.lines.length > MAX_CHANNEL_LINES) ch.lines.splice(0, ch.lines.length - MAX_CHANNEL_LINES);
    const mine = String(data.talker || "").toLowerCase() === this.me;
    if (this.active === data.channel) {
      const follow = this.pane.scrollHeight - this.pane.scrollTop - this.pane.clientHeight < 40;
      this.pane.appendChild(this._line(data.text));
      while (this.pane.childElementCount > MAX_CHANNEL_LINES) this.pane.firstChild.remove();
      if (follow) this.pane.scrollTop = this.pane.scrollHeight;
    } else if (!mine) {
      ch.unread += 1;
    }
    if (!known) this._renderTabs();
    else this._renderTab(data.channel, ch);
  }

  _line(text) {
    const div = document.createElement("div");
    div.className = "chunk";
    div.textContent = text;
    return div;
  }

  /** Show one channel's lines ("" shows everything, the ordinary output). */
  show(name) {
    const ch = name ? this.channels.get(name) : null;
    this.active = ch ? name : "";
    // The channel's lines are put in while the log is hidden, so they are not read out again.
    this.pane.hidden = true;
    if (ch) {
      ch.unread = 0;
      this.pane.replaceChildren(...ch.lines.map((t) => this._line(t)));
      this.pane.setAttribute("aria-label", `${ch.caption} channel`);
    }
    this.main.hidden = Boolean(ch);
    this.pane.hidden = !ch;
    if (ch) this.pane.scrollTop = this.pane.scrollHeight;
    this.all.setAttribute("aria-selected", String(!ch));
    this.all.tabIndex = ch ? -1 : 0;
    for (const [n, c] of this.channels) this._renderTab(n, c);
    if (this.onSwitch) this.onSwitch(this.active);
  }

  _renderTab(name, ch) {
    if (!ch.tab) return;
    const selected = name === this.active;
    ch.tab.setAttribute("aria-selected", String(selected));
    ch.tab.tabIndex = selected ? 0 : -1;
    ch.tab.classList.toggle("off", !ch.on);
    ch.tab.title = ch.on ? "" : `${ch.caption} is muted`;
    const label = ch.tab.querySelector(".caption");
    label.textContent = ch.caption;
    const badge = ch.tab.querySelector(".badge");
    badge.hidden = ch.unread === 0;
    badge.firstChild.textContent = ch.unread > 99 ? "99+" : String(ch.unread);
  }

  _renderTabs() {
    const tabs = [this.all];
    for (const [name, ch] of this.channels) {
      if (!ch.tab) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "tab";
        b.setAttribute("role", "tab");
        b.setAttribute("aria-controls", "channel-output");
        b.dataset.channel = name;
        const caption = document.createElement("span");
        caption.className = "caption";
        const badge = document.createElement("span");
        badge.className = "badge";
        const sr = document.createElement("span");
        sr.className = "sr";
        sr.textContent = " unread";
        badge.append(document.createTextNode(""), sr);
        b.append(caption, badge);
        b.addEventListener("click", () => this.show(name));
        ch.tab = b;
      }
      this._renderTab(name, ch);
      tabs.push(ch.tab);
    }
    this.bar.replaceChildren(...tabs);
  }

  _keys(ev) {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
    const tabs = [...this.bar.querySelectorAll('[role="tab"]')];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    ev.preventDefault();
    let next = at;
    if (ev.key === "ArrowLeft") next = (at - 1 + tabs.length) % tabs.length;
    if (ev.key === "ArrowRight") next = (at + 1) % tabs.length;
    if (ev.key === "Home") next = 0;
    if (ev.key === "End") next = tabs.length - 1;
    tabs[next].focus();
    tabs[next].click();
  }
}
