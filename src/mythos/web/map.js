// The mini-map: every room the character has explored, drawn around the room they are in. The
// server sends them all at login (Room.Map, the same rooms `explored` and `map` use) and each
// new one as it is found (Room.Map.Add); Room.Info adds the current room's doors and area. So a
// reload, another browser or another day shows everything explored. Clicking a neighbouring
// room walks there.

const SVG = "http://www.w3.org/2000/svg";
const STEP = {
  n: [0, 1], s: [0, -1], e: [1, 0], w: [-1, 0], ne: [1, 1], nw: [-1, 1], se: [1, -1], sw: [-1, -1],
};
export const DIRECTION_NAMES = {
  n: "north", ne: "northeast", e: "east", se: "southeast", s: "south", sw: "southwest",
  w: "west", nw: "northwest", u: "up", d: "down",
};
const RX = 3; // cells shown left and right of the current room
const RY = 2; // and above and below

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

export class MiniMap {
  constructor(svg, caption, onWalk) {
    this.svg = svg;
    this.caption = caption;
    this.onWalk = onWalk;
    this.rooms = new Map();
    this.here = null;
    this.name = "";
  }

  /** A new character (or the same one again): forget the rooms until the server sends them. */
  load(name) {
    this.name = name.toLowerCase();
    this.rooms.clear();
    this.here = null;
    this.draw();
  }

  /** Room.Map (every explored room, replacing what was known) or Room.Map.Add (new ones). */
  explored(data, replace) {
    const list = data && Array.isArray(data.rooms) ? data.rooms : null;
    if (!list) return;
    const old = this.rooms;
    if (replace) this.rooms = new Map();
    for (const r of list) {
      if (!r || typeof r.num !== "string" || !r.coords) continue;
      const c = r.coords;
      const before = old.get(r.num);
      this.rooms.set(r.num, {
        num: r.num, name: String(r.name || ""), area: before ? before.area : "",
        env: String(r.environment || ""), x: Number(c.x) || 0, y: Number(c.y) || 0,
        z: Number(c.z) || 0, exits: r.exits && typeof r.exits === "object" ? r.exits : {},
        doors: before ? before.doors : {},
      });
    }
    // The current room stays, though a Room.Info will come too.
    if (replace && this.here && old.has(this.here) && !this.rooms.has(this.here)) {
      this.rooms.set(this.here, old.get(this.here));
    }
    this.draw();
  }

  /** A Room.Info message: remember the room, make it the current one, redraw. */
  update(info) {
    if (!info || typeof info.num !== "string" || !info.coords) return;
    const c = info.coords;
    const room = {
      num: info.num, name: String(info.name || ""), area: String(info.area || ""),
      env: String(info.environment || ""), x: Number(c.x) || 0, y: Number(c.y) || 0,
      z: Number(c.z) || 0, exits: info.exits && typeof info.exits === "object" ? info.exits : {},
      doors: info.doors && typeof info.doors === "object" ? info.doors : {},
    };
    this.rooms.set(room.num, room);
    this.here = room.num;
    this.draw();
  }

  draw() {
    const svg = this.svg;
    svg.replaceChildren();
    const cur = this.rooms.get(this.here);
    if (!cur) {
      svg.setAttribute("viewBox", `0 0 ${2 * RX + 1} ${2 * RY + 1}`);
      if (this.caption) this.caption.textContent = "";
      return;
    }
    svg.setAttribute("viewBox", `${cur.x - RX - 0.5} ${-cur.y - RY - 0.5} ${2 * RX + 1} ${2 * RY + 1}`);
    const inView = (r) => r.z === cur.z && Math.abs(r.x - cur.x) <= RX + 1
      && Math.abs(r.y - cur.y) <= RY + 1;
    const shown = [...this.rooms.values()].filter(inView);
    const byPos = new Map(shown.map((r) => [`${r.x},${r.y}`, r]));

    // The compass grid.
    const grid = el("g", { class: "grid" }, svg);
    for (let x = cur.x - RX; x <= cur.x + RX; x++) {
      for (let y = cur.y - RY; y <= cur.y + RY; y++) el("circle", { cx: x, cy: -y, r: 0.03 }, grid);
    }
    // Passages first, rooms on top.
    const links = el("g", { class: "links" }, svg);
    for (const r of shown) {
      for (const [dir, target] of Object.entries(r.exits)) {
        const step = STEP[dir];
        if (!step) continue;
        const known = this.rooms.get(target);
        const door = r.doors[dir];
        const cls = `link${door && door !== "open" ? " door" : ""}`;
        if (known && known.z === r.z && byPos.get(`${known.x},${known.y}`) === known) {
          if (`${r.num}` < `${known.num}` || !known.exits || !Object.values(known.exits).includes(r.num)) {
            el("line", { x1: r.x, y1: -r.y, x2: known.x, y2: -known.y, class: cls }, links);
          }
        } else {
          el("line", { x1: r.x, y1: -r.y, x2: r.x + step[0] * 0.48, y2: -(r.y + step[1] * 0.48),
            class: `${cls} unknown` }, links);
        }
      }
    }
    const nodes = el("g", { class: "rooms" }, svg);
    const walkable = new Map();
    for (const [dir, target] of Object.entries(cur.exits)) walkable.set(target, dir);
    for (const r of shown) {
      const here = r.num === cur.num;
      const g = el("g", { class: `room env-${r.env}${here ? " here" : ""}`, "data-room": r.num }, nodes);
      el("title", {}, g).textContent = here ? `${r.name} (you are here)` : r.name;
      if (here) el("rect", { x: r.x - 0.42, y: -r.y - 0.42, width: 0.84, height: 0.84, rx: 0.14, class: "halo" }, g);
      el("rect", { x: r.x - 0.28, y: -r.y - 0.28, width: 0.56, height: 0.56, rx: 0.08, class: "cell" }, g);
      if (r.exits.u) el("path", { d: `M${r.x - 0.12} ${-r.y - 0.02} l0.12 -0.16 l0.12 0.16 z`, class: "updown" }, g);
      if (r.exits.d) el("path", { d: `M${r.x - 0.12} ${-r.y + 0.04} l0.12 0.16 l0.12 -0.16 z`, class: "updown" }, g);
      const dir = walkable.get(r.num);
      if (!here && dir && STEP[dir]) {
        g.classList.add("walkable");
        g.addEventListener("click", () => this.onWalk && this.onWalk(DIRECTION_NAMES[dir]));
      }
    }
    svg.setAttribute("aria-label", `Map of the rooms you have seen. You are in ${cur.name}.`);
    if (this.caption) {
      this.caption.textContent = cur.z ? `${cur.area} · level ${cur.z > 0 ? "+" : ""}${cur.z}` : cur.area;
    }
  }
}
