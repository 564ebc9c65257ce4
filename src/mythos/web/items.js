// What the player carries and wears, and what lies on the floor, from the GMCP Char.Items
// messages (docs/PROTOCOL.md): "inv" and "room" lists, kept up to date by Add / Remove / Update.
// Each thing is a button that puts a command for it on the command line (it is not sent: the
// player reads it, may change it, and presses Enter).

const SLOTS = {
  head: "on your head", amulet: "around your neck", torso: "on your body", back: "on your back",
  belt: "at your belt", hands: "on your hands", ring: "on a finger", legs: "on your legs",
  feet: "on your feet", main_hand: "wielded", off_hand: "held",
};

/** The word to name a thing by in a command: the last word of its name ("a brass lantern" ->
 * "lantern", "20 coins" -> "coins"). */
export function keyword(name) {
  const words = String(name).toLowerCase().replace(/\([^)]*\)/g, " ").match(/[a-z][a-z'-]*/g);
  return words ? words[words.length - 1] : String(name);
}

function valid(item) {
  return item && typeof item === "object" && item.id !== undefined && typeof item.name === "string";
}

export class Items {
  /** nodes: {carried, worn, ground, carriedEmpty, wornEmpty, groundEmpty}; pick(command). */
  constructor(nodes, pick) {
    this.nodes = nodes;
    this.pick = pick;
    this.inv = new Map();
    this.room = new Map();
  }

  _where(location) {
    if (location === "inv") return this.inv;
    if (location === "room") return this.room;
    return null; // a container's contents: not shown here
  }

  clear() {
    this.inv.clear();
    this.room.clear();
    this.render();
  }

  /** One Char.Items.* message (kind: "list", "add", "remove" or "update"). */
  handle(kind, data) {
    if (!data || typeof data !== "object") return;
    const where = this._where(data.location);
    if (!where) return;
    if (kind === "list") {
      where.clear();
      for (const item of Array.isArray(data.items) ? data.items : []) {
        if (valid(item)) where.set(String(item.id), item);
      }
    } else if (!valid(data.item)) {
      return;
    } else if (kind === "remove") {
      where.delete(String(data.item.id));
    } else {
      where.set(String(data.item.id), data.item);
    }
    this.render();
  }

  _entry(item, location) {
    const li = document.createElement("li");
    li.dataset.id = String(item.id);
    const attrib = String(item.attrib || "");
    const word = keyword(item.name);
    const command = location === "room" && attrib.includes("t") ? `get ${word}` : `examine ${word}`;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "item";
    b.textContent = item.name;
    b.title = command;
    b.addEventListener("click", () => this.pick(command));
    li.appendChild(b);
    if (item.slot) {
      const s = document.createElement("span");
      s.className = "slot";
      s.textContent = SLOTS[item.slot] || String(item.slot).replace(/_/g, " ");
      li.appendChild(s);
    }
    return li;
  }

  render() {
    const n = this.nodes;
    const carried = [...this.inv.values()].filter((i) => !i.slot);
    const worn = [...this.inv.values()].filter((i) => i.slot);
    const ground = [...this.room.values()];
    n.carried.replaceChildren(...carried.map((i) => this._entry(i, "inv")));
    n.worn.replaceChildren(...worn.map((i) => this._entry(i, "inv")));
    n.ground.replaceChildren(...ground.map((i) => this._entry(i, "room")));
    n.carriedEmpty.hidden = carried.length > 0;
    n.wornEmpty.hidden = worn.length > 0;
    n.groundEmpty.hidden = ground.length > 0;
  }
}
