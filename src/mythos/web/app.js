// Mythos in the browser: the login screen, then the game over /ws (see docs/PROTOCOL.md).
// Commands go up as {"type": "command"}; text and the GMCP messages telnet clients get come down.

import * as api from "./api.js";
import { MiniMap, DIRECTION_NAMES } from "./map.js";
import { Output } from "./output.js";
import { Items } from "./items.js";
import { Channels } from "./channels.js";
import { stripAnsi } from "./ansi.js";

const $ = (id) => document.getElementById(id);
const HISTORY_MAX = 200;
const COMPASS = ["nw", "n", "ne", "w", "", "e", "sw", "s", "se"];

const ui = {
  loginScreen: $("login-screen"), gameScreen: $("game-screen"),
  form: $("login-form"), name: $("name"), password: $("password"), profession: $("profession"),
  loginMessage: $("login-message"), loginButton: $("login-button"), createButton: $("create-button"),
  charName: $("char-name"), charSub: $("char-sub"), status: $("conn-status"),
  leave: $("leave-button"), mapToggle: $("map-toggle"), side: $("side"),
  output: $("output"), more: $("more"), commandForm: $("command-form"), command: $("command"),
  hp: $("hp-bar"), lucidity: $("lucidity-bar"), tier: $("tier"), level: $("level"),
  roomName: $("room-name"), roomArea: $("room-area"), map: $("map"), exits: $("exits"),
  players: $("players"), nobody: $("nobody"), ended: $("ended"), endedText: $("ended-text"),
  endedButton: $("ended-button"), measure: $("measure"),
  itemsToggle: $("items-toggle"), tabs: $("channel-tabs"), tabAll: $("tab-all"),
  channelOutput: $("channel-output"), clock: $("mythos-time"),
};

const output = new Output(ui.output, ui.more);
const miniMap = new MiniMap(ui.map, ui.roomArea, (dir) => sendCommand(dir, true));
const items = new Items({
  carried: $("carried"), worn: $("worn"), ground: $("ground"),
  carriedEmpty: $("carried-empty"), wornEmpty: $("worn-empty"), groundEmpty: $("ground-empty"),
}, (command) => {
  // A thing was chosen: its command goes on the command line, to be sent with Enter.
  ui.command.value = command;
  closeOverlays();
  ui.command.focus({ preventScroll: true });
  ui.command.setSelectionRange(command.length, command.length);
});
const channels = new Channels(ui.tabs, ui.tabAll, ui.channelOutput, ui.output, (active) => {
  if (active) ui.more.hidden = true;
  else output.toBottom();
});

const state = {
  name: "",
  ws: null,
  playing: false,
  reconnecting: false,
  attempts: 0,
  timer: null,
  leaving: false,
  serverClosed: null, // the "closed" frame, when the server ended the session
  lastLine: "", // the last line of game text (not a prompt): the server's goodbye, at the end
  players: new Map(),
  history: [],
  historyAt: 0,
  draft: "",
};

// -- screens -------------------------------------------------------------------------------------

function showLogin(message = "", kind = "error") {
  clearTimeout(state.timer);
  state.playing = false;
  state.reconnecting = false;
  ui.gameScreen.hidden = true;
  ui.ended.hidden = true;
  ui.loginScreen.hidden = false;
  document.body.classList.remove("booting");
  setLoginMessage(message, kind);
  setBusy(false);
  (ui.name.value ? ui.password : ui.name).focus();
}

function showGame(name) {
  state.name = name;
  ui.loginScreen.hidden = true;
  ui.ended.hidden = true;
  ui.gameScreen.hidden = false;
  document.body.classList.remove("booting");
  ui.charName.textContent = name;
  document.title = `${name} · Mythos`;
  try {
    state.history = JSON.parse(sessionStorage.getItem(historyKey()) || "[]");
  } catch { state.history = []; }
  state.historyAt = state.history.length;
  miniMap.load(name);
  ui.command.focus();
}

function setLoginMessage(message, kind = "error") {
  ui.loginMessage.textContent = message;
  ui.loginMessage.dataset.kind = kind;
}

function setBusy(busy) {
  ui.loginButton.disabled = busy;
  ui.createButton.disabled = busy;
}

function setStatus(text, kind) {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

// -- logging in ----------------------------------------------------------------------------------

async function submit(kind) {
  const name = ui.name.value.trim();
  const password = ui.password.value;
  if (!name || !password) {
    setLoginMessage("Give a name and a password.");
    return;
  }
  setBusy(true);
  setLoginMessage(kind === "create" ? "Writing your name in the town register…" : "Knocking…",
    "info");
  const reply = kind === "create"
    ? await api.create(name, password, ui.profession.value)
    : await api.login(name, password);
  setBusy(false);
  if (!reply.ok) {
    setLoginMessage(reply.message || "That did not work.");
    ui.password.focus();
    return;
  }
  ui.password.value = "";
  setLoginMessage("");
  output.clear();
  enterGame(reply.name, reply.token);
}

function enterGame(name, token) {
  state.leaving = false;
  state.players.clear();
  renderPlayers();
  items.clear();
  channels.reset(name);
  showGame(name);
  connect(token);
}

// -- the socket ----------------------------------------------------------------------------------

function terminalSize() {
  const charWidth = ui.measure.getBoundingClientRect().width / 10 || 8;
  const style = getComputedStyle(ui.output);
  const inner = ui.output.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const lineHeight = parseFloat(style.lineHeight) || 20;
  return {
    width: Math.max(20, Math.min(120, Math.floor(inner / charWidth) - 1)),
    height: Math.max(5, Math.floor(ui.output.clientHeight / lineHeight)),
  };
}

function connect(token) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const ws = new WebSocket(url);
  state.ws = ws;
  state.serverClosed = null;
  setStatus(state.reconnecting ? "Reconnecting…" : "Connecting…", "pending");
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token, ...terminalSize() })));
  ws.addEventListener("message", (ev) => {
    let frame;
    try { frame = JSON.parse(ev.data); } catch { return; }
    // Several frames sent at once come as an array of them, in order.
    for (const f of Array.isArray(frame) ? frame : [frame]) {
      if (f && typeof f === "object") onFrame(f);
    }
  });
  ws.addEventListener("close", (ev) => onClose(ws, ev));
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function onFrame(frame) {
  switch (frame.type) {
    case "ready":
      state.playing = true;
      if (state.reconnecting) output.note("Reconnected. Arkham is still there.", "info");
      state.reconnecting = false;
      state.attempts = 0;
      setStatus("Connected", "ok");
      send({ type: "gmcp", package: "Core.Hello", data: { client: "Mythos web", version: "1" } });
      send({ type: "gmcp", package: "Core.Supports.Set",
        data: ["Char 1", "Char.Items 1", "Room 1", "Comm.Channel 1", "Mythos 1"] });
      // What is carried and on the floor, and the channels: asked for again, as a reconnect
      // may have missed changes.
      send({ type: "gmcp", package: "Char.Items.Inv", data: "" });
      send({ type: "gmcp", package: "Char.Items.Room", data: "" });
      send({ type: "gmcp", package: "Comm.Channel.List", data: "" });
      break;
    case "text":
      if (typeof frame.text === "string") {
        output.text(frame.text, frame.prompt === true);
        const lines = stripAnsi(frame.text).split("\n");
        if (frame.prompt === true) lines.pop();
        const last = lines.filter((l) => l.trim()).pop();
        if (last) state.lastLine = last.trim();
      }
      break;
    case "gmcp":
      if (typeof frame.package === "string") onGmcp(frame.package, frame.data);
      break;
    case "error":
      if (frame.code === "bad_token" || frame.code === "refused") {
        state.serverClosed = { reconnect: false, login: true, message: frame.message };
      } else {
        output.note(String(frame.message || "The server refused that."), "error");
      }
      break;
    case "closed":
      state.serverClosed = { reconnect: frame.reconnect === true };
      break;
    default:
      break;
  }
}

function onClose(ws, ev) {
  if (ws !== state.ws) return;
  state.ws = null;
  const wasPlaying = state.playing;
  state.playing = false;
  if (state.leaving) return;
  const closed = state.serverClosed;
  if (closed && closed.login) {
    showLogin(state.reconnecting ? "Your session has ended; log in again." : closed.message);
    return;
  }
  if (closed && !closed.reconnect) {
    setStatus("Disconnected", "off");
    ui.endedText.textContent = state.lastLine || "This page is no longer connected to Arkham.";
    ui.ended.hidden = false;
    ui.endedButton.focus();
    return;
  }
  if (ev.code === 1009) output.note("That was too much to send at once.", "error");
  if (!state.reconnecting) {
    output.note(wasPlaying || closed
      ? "The connection to Arkham was lost. Reconnecting…"
      : "Arkham cannot be reached just now. Trying again…", "warn");
  }
  state.reconnecting = true;
  scheduleReconnect();
}

function scheduleReconnect() {
  clearTimeout(state.timer);
  state.attempts += 1;
  const delay = Math.min(15, 2 ** (state.attempts - 1)) * (0.75 + Math.random() * 0.5);
  setStatus(`Connection lost · retrying in ${Math.ceil(delay)} s`, "warn");
  state.timer = setTimeout(reconnect, delay * 1000);
}

async function reconnect() {
  setStatus("Reconnecting…", "pending");
  const reply = await api.resume();
  if (reply.ok) {
    connect(reply.token);
  } else if (reply.status === 401) {
    showLogin("Your session has ended; log in again.");
  } else {
    scheduleReconnect();
  }
}

// -- out-of-band messages ------------------------------------------------------------------------

function onGmcp(pkg, data) {
  switch (pkg.toLowerCase()) {
    case "char.vitals": return showVitals(data || {});
    case "char.status": return showStatus(data || {});
    case "room.info": return showRoom(data || {});
    case "room.map": return miniMap.explored(data, true);
    case "room.map.add": return miniMap.explored(data, false);
    case "mythos.time": return showTime(data || {});
    case "room.players":
      state.players.clear();
      if (Array.isArray(data)) for (const p of data) addPlayer(p, false);
      return renderPlayers();
    case "room.addplayer": addPlayer(data, false); return renderPlayers();
    case "room.removeplayer": state.players.delete(String(data)); return renderPlayers();
    case "char.items.list": return items.handle("list", data);
    case "char.items.add": return items.handle("add", data);
    case "char.items.remove": return items.handle("remove", data);
    case "char.items.update": return items.handle("update", data);
    case "comm.channel.list": return channels.list(data);
    case "comm.channel.text": return channels.text(data);
    default: return undefined;
  }
}

function bar(node, value, max, text) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (100 * value) / max)) : 0;
  node.querySelector(".fill").style.width = `${pct}%`;
  node.querySelector(".value").textContent = text;
  node.setAttribute("aria-valuenow", String(value));
  node.setAttribute("aria-valuemax", String(max));
  node.setAttribute("aria-valuetext", text);
}

function showVitals(v) {
  const hp = Number(v.hp) || 0;
  const maxhp = Number(v.maxhp) || 0;
  const lcd = Number(v.lucidity) || 0;
  const maxl = Number(v.maxlucidity) || 100;
  bar(ui.hp, hp, maxhp, `${hp} / ${maxhp}`);
  bar(ui.lucidity, lcd, maxl, `${lcd} / ${maxl}`);
  const tier = String(v.tier || "");
  ui.lucidity.dataset.tier = tier;
  ui.tier.textContent = tier;
  if (v.level !== undefined) ui.level.textContent = `Level ${v.level} · ${v.xp ?? 0} XP`;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Mythos.Time: the hour in Arkham (it comes each Mythos hour, so no minutes are shown). */
function showTime(t) {
  const [y, m, d, h] = [t.year, t.month, t.day, t.hour].map(Number);
  if (![y, m, d, h].every(Number.isInteger) || m < 1 || m > 12) return;
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  const hour = h === 0 ? "midnight" : h === 12 ? "noon" : `${h % 12} ${h < 12 ? "am" : "pm"}`;
  const night = t.period === "night";
  const sky = document.createElement("span");
  sky.className = "sky";
  sky.setAttribute("aria-hidden", "true");
  sky.textContent = night ? "☾" : "☀";
  const text = `${hour} · ${weekday}, ${d} ${MONTHS[m - 1]} ${y}`;
  ui.clock.replaceChildren(sky, document.createTextNode(text));
  ui.clock.dataset.period = night ? "night" : "day";
  ui.clock.title = night ? "Night in Arkham" : "Day in Arkham";
  ui.clock.hidden = false;
}

function showStatus(s) {
  if (s.name) ui.charName.textContent = String(s.name);
  const parts = [s.profession, s.posture && s.posture !== "standing" ? s.posture : ""].filter(Boolean);
  ui.charSub.textContent = parts.length ? `the ${parts.join(", ")}` : "";
}

function showRoom(info) {
  ui.roomName.textContent = String(info.name || "");
  miniMap.update(info);
  const exits = info.exits && typeof info.exits === "object" ? info.exits : {};
  const doors = info.doors && typeof info.doors === "object" ? info.doors : {};
  const buttons = [];
  for (const dir of [...COMPASS, "u", "d"]) {
    const cell = document.createElement(dir && exits[dir] ? "button" : "span");
    cell.className = `exit exit-${dir || "centre"}`;
    if (dir && exits[dir]) {
      const name = DIRECTION_NAMES[dir];
      cell.type = "button";
      cell.textContent = name;
      cell.dataset.dir = dir;
      if (doors[dir] && doors[dir] !== "open") {
        cell.classList.add("door");
        cell.title = `${name}: a ${doors[dir]} door`;
        cell.setAttribute("aria-label", `${name} (${doors[dir]} door)`);
      }
      cell.addEventListener("click", () => sendCommand(name, true));
    } else if (dir === "") {
      cell.textContent = "◆";
      cell.setAttribute("aria-hidden", "true");
    } else {
      cell.setAttribute("aria-hidden", "true");
    }
    buttons.push(cell);
  }
  ui.exits.replaceChildren(...buttons);
}

function addPlayer(p, render = true) {
  if (!p || typeof p.name !== "string") return;
  state.players.set(p.name, String(p.fullname || p.name));
  if (render) renderPlayers();
}

function renderPlayers() {
  const others = [...state.players.entries()].filter(([name]) => name !== state.name);
  ui.players.replaceChildren(...others.map(([, full]) => {
    const li = document.createElement("li");
    li.textContent = full;
    return li;
  }));
  ui.nobody.hidden = others.length > 0;
}

// -- typing --------------------------------------------------------------------------------------

function historyKey() { return `mythos:history:${state.name.toLowerCase()}`; }

function sendCommand(line, fromClick = false) {
  if (!send({ type: "command", line })) {
    output.note("Not connected just now; that was not sent.", "warn");
    return false;
  }
  output.echo(line);
  output.toBottom();
  if (line.trim() && state.history[state.history.length - 1] !== line && !fromClick) {
    state.history.push(line);
    if (state.history.length > HISTORY_MAX) state.history.splice(0, state.history.length - HISTORY_MAX);
    try { sessionStorage.setItem(historyKey(), JSON.stringify(state.history)); } catch { /* ok */ }
  }
  state.historyAt = state.history.length;
  state.draft = "";
  if (fromClick) ui.command.focus({ preventScroll: true });
  return true;
}

ui.commandForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const line = ui.command.value;
  if (sendCommand(line)) ui.command.value = "";
  ui.command.focus();
});

ui.command.addEventListener("keydown", (ev) => {
  if (ev.key !== "ArrowUp" && ev.key !== "ArrowDown") return;
  ev.preventDefault();
  if (state.historyAt === state.history.length) state.draft = ui.command.value;
  state.historyAt = ev.key === "ArrowUp"
    ? Math.max(0, state.historyAt - 1)
    : Math.min(state.history.length, state.historyAt + 1);
  ui.command.value = state.historyAt < state.history.length ? state.history[state.historyAt] : state.draft;
  const end = ui.command.value.length;
  ui.command.setSelectionRange(end, end);
});

// Clicking the output (without selecting text) or typing anywhere brings the focus back.
ui.output.addEventListener("mouseup", () => {
  if (!String(window.getSelection() || "")) ui.command.focus({ preventScroll: true });
});
document.addEventListener("keydown", (ev) => {
  if (ui.gameScreen.hidden || !ui.ended.hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLButtonElement) return;
  if (ev.key.length === 1) ui.command.focus();
});

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.playing) send({ type: "size", ...terminalSize() }); }, 300);
});

// -- leaving -------------------------------------------------------------------------------------

ui.leave.addEventListener("click", async () => {
  state.leaving = true;
  clearTimeout(state.timer);
  if (!send({ type: "command", line: "quit" }) && state.ws) state.ws.close();
  await api.logout();
  showLogin("You step out of the fog. Come back soon.", "info");
});

ui.endedButton.addEventListener("click", () => showLogin(""));

// On a phone the map and company, and the things, are overlays behind the Map and Items buttons.
function toggleOverlay(which) {
  const open = !ui.side.classList.contains(which);
  closeOverlays();
  ui.side.classList.toggle(which, open);
  (which === "open" ? ui.mapToggle : ui.itemsToggle).setAttribute("aria-expanded", String(open));
}

function closeOverlays() {
  ui.side.classList.remove("open", "items-open");
  ui.mapToggle.setAttribute("aria-expanded", "false");
  ui.itemsToggle.setAttribute("aria-expanded", "false");
}

ui.mapToggle.addEventListener("click", () => toggleOverlay("open"));
ui.itemsToggle.addEventListener("click", () => toggleOverlay("items-open"));

ui.form.addEventListener("submit", (ev) => { ev.preventDefault(); submit("login"); });
ui.createButton.addEventListener("click", () => submit("create"));

// -- start ---------------------------------------------------------------------------------------

async function boot() {
  const about = api.info().then((inf) => {
    if (!inf) return;
    ui.profession.replaceChildren(...inf.professions.map((p) => {
      const o = document.createElement("option");
      o.value = p.id;
      o.textContent = p.name;
      o.selected = p.id === inf.default_profession;
      return o;
    }));
  });
  // Back from a reload (or another visit): the resume cookie lets us straight in.
  const reply = await api.resume();
  if (reply.ok) {
    enterGame(reply.name, reply.token);
  } else {
    showLogin("", "info");
  }
  await about;
}

boot();
