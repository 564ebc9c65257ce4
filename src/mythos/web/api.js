// The login API (POST /api/...). A success carries a one-use token for /ws; the server also
// sets an HttpOnly cookie that /api/resume trades for a new token after a drop or a reload.

async function post(path, body) {
  let resp;
  try {
    resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return { ok: false, status: 0, error: "network", message: "Arkham cannot be reached just now." };
  }
  let data = {};
  try { data = await resp.json(); } catch { /* an empty or broken answer */ }
  return { status: resp.status, ...data, ok: resp.ok && data.ok === true };
}

export const login = (name, password) => post("/api/login", { name, password });
export const create = (name, password, profession) =>
  post("/api/create", { name, password, profession });
export const resume = () => post("/api/resume");
export const logout = () => post("/api/logout");

export async function info() {
  try {
    const resp = await fetch("/api/info", { cache: "no-store" });
    return resp.ok ? await resp.json() : null;
  } catch {
    return null;
  }
}
