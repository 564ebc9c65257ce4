"""The page in a real browser: Debian's headless Chromium driven by Playwright, against the real
server. Screenshots of the game screen are saved under test-artifacts/ for a person to look at."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from mythos.world.model import DIR_SHORT

from mudclient import PASSWORD, login, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not at /usr/bin/chromium (`make test` installs it: "
           "apt-get install chromium)")


#: Playwright's client does a little blocking file IO of its own (finding its driver, reading
#: stack frames for its error messages); those places, and only those, may block.
PLAYWRIGHT_BLOCKS = [
    ("playwright/_impl/_driver.py", "compute_driver_executable"),
]


@pytest.fixture
async def browser(blockbuster) -> AsyncIterator[Any]:
    for fn in blockbuster.functions.values():
        for path, name in PLAYWRIGHT_BLOCKS:
            fn.can_block_in(path, name)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def save_screenshot(page: Any, name: str) -> Path:
    data = await page.screenshot()
    path = ARTIFACTS / name
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, data)
    return path


def walkable_exit(app: Any, room_id: str) -> tuple[str, str]:
    """(direction, target) of an exit of ``room_id`` with no door, leading to a room that has
    other ways on (so the map has something to show)."""
    room = app.game.world.rooms[room_id]
    for ex in room.visible_exits():
        if ex.door is None and ex.direction not in ("up", "down"):
            return ex.direction, ex.to
    raise AssertionError(f"{room_id} has no plain exit")


async def create_character(page: Any, base: str, name: str) -> None:
    await page.goto(base)
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create character").click()
    await expect(page.locator("#output")).to_contain_text(f"Welcome to Arkham, {name}")


async def test_play_in_the_browser(server, browser):
    base = f"http://127.0.0.1:{server.web_port}/"
    world = server.game.world
    start = world.start_room
    direction, target = walkable_exit(server, start)
    errors: list[str] = []

    desk = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await desk.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # The login screen: Name, Password, Log in, Create character.
    await page.goto(base)
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await save_screenshot(page, "login.png")
    await page.get_by_label("Name").fill("Ashley")
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "That name and password do not match anyone we know.")
    await create_character(page, base, "Ashley")

    output = page.locator("#output")
    assert await output.get_attribute("role") == "log"
    assert await output.get_attribute("aria-live") == "polite"
    await expect(page.locator("#room-name")).to_have_text(world.rooms[start].name)
    # Our colour markup is painted: the room's name in bright yellow.
    await expect(output.locator("span.fg-yellow.bright").first).to_have_text(
        world.rooms[start].name)
    hp = server.game.online["ashley"].max_hp
    await expect(page.get_by_role("meter", name="Health")).to_have_attribute(
        "aria-valuenow", str(hp))
    await expect(page.get_by_role("meter", name="Lucidity")).to_have_attribute(
        "aria-valuenow", "100")
    await expect(page.locator("#map [data-room]")).to_have_count(1)

    # Look, by typing.
    command = page.get_by_label("Command")
    await command.fill("look")
    await command.press("Enter")
    await expect(output.locator(".chunk.echo")).to_have_text(["look"])
    await expect(output.get_by_text("Exits:")).to_have_count(2)
    await expect(command).to_be_focused()

    # Walk by clicking an exit: the room, the map and the server agree.
    await page.get_by_role("button", name=direction, exact=True).click()
    await expect(page.locator("#room-name")).to_have_text(world.rooms[target].name)
    await expect(page.locator(f'#map [data-room="{target}"].here')).to_have_count(1)
    await expect(page.locator(f'#map [data-room="{start}"]')).to_have_count(1)
    await wait_until(lambda: server.game.online["ashley"].room_id == target)
    await expect(command).to_be_focused()
    # The exits shown are the new room's.
    shown = await page.locator("#exits button").evaluate_all("bs => bs.map(b => b.dataset.dir)")
    assert sorted(shown) == sorted(DIR_SHORT[e.direction]
                                   for e in world.rooms[target].visible_exits())

    # A second player, on a phone-sized screen, walks to the same room and hears Ashley.
    phone = await browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True,
                                      has_touch=True)
    page2 = await phone.new_page()
    page2.on("pageerror", lambda exc: errors.append(str(exc)))
    await create_character(page2, base, "Bartholomew")
    await page2.get_by_role("button", name=direction, exact=True).click()
    await expect(page2.locator("#output")).to_contain_text("Ashley the journalist is standing")
    await expect(page.locator("#players")).to_contain_text("Bartholomew the journalist")
    await command.fill("say Something is moving under the bridge.")
    await command.press("Enter")
    await expect(page2.locator("#output")).to_contain_text(
        "Ashley says, 'Something is moving under the bridge.'")
    # What players type is shown as text, never as markup.
    await page2.get_by_label("Command").fill("say <img src=x onerror=alert(1)><b>bold</b>")
    await page2.get_by_label("Command").press("Enter")
    await expect(output).to_contain_text(
        "Bartholomew says, '<img src=x onerror=alert(1)><b>bold</b>'")
    assert await output.locator("img, b").count() == 0
    # A telnet player in the same room is heard too.
    tel = await login(server, "Tillinghast")
    tel.send(direction)
    await tel.expect("Ashley the journalist is standing here")
    tel.send("say Who goes there?")
    await expect(output).to_contain_text("Tillinghast says, 'Who goes there?'")
    await expect(page.locator("#players li")).to_have_count(2)

    # History: up brings back what was typed.
    await command.press("ArrowUp")
    await expect(command).to_have_value("say Something is moving under the bridge.")
    await command.press("ArrowUp")
    await expect(command).to_have_value("look")
    await command.press("ArrowDown")
    await command.press("ArrowDown")
    await expect(command).to_have_value("")

    await save_screenshot(page, "game.png")
    await save_screenshot(page2, "game-phone.png")
    assert await page2.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await expect(page2.locator("#side .side-extra")).to_be_hidden()
    await page2.get_by_role("button", name="Map").click()
    await expect(page2.locator("#map")).to_be_visible()
    await save_screenshot(page2, "game-phone-map.png")

    # Reload: straight back in, in the same room, with the map remembered.
    await page.reload()
    await expect(output).to_contain_text("Welcome back, Ashley")
    await expect(page.locator("#room-name")).to_have_text(world.rooms[target].name)
    await expect(page.locator(f'#map [data-room="{start}"]')).to_have_count(1)
    await wait_until(lambda: "ashley" in server.game.online)

    # A dropped connection: the page says so, reconnects by itself, and plays on.
    next(s.conn for s in server.gateway.sessions.values() if s.name == "Ashley").abort()
    await expect(output).to_contain_text("The connection to Arkham was lost")
    await expect(output).to_contain_text("Reconnected", timeout=10_000)
    await expect(page.locator("#conn-status")).to_have_text("Connected")
    await command.fill("say Still here.")
    await command.press("Enter")
    await expect(page2.locator("#output")).to_contain_text("Ashley says, 'Still here.'")

    # The output keeps a few thousand lines, not everything.
    kept = await page.evaluate("""async () => {
        const { Output, MAX_LINES } = await import("/client/output.js");
        const pane = document.createElement("div");
        const out = new Output(pane, document.createElement("button"));
        for (let i = 0; i < MAX_LINES + 500; i++) out.note("line " + i);
        return [pane.childElementCount, MAX_LINES, pane.lastChild.textContent];
    }""")
    assert kept[0] == kept[1] >= 2000 and kept[2] == f"line {kept[1] + 499}"

    # Leaving: back to the login screen, and a reload does not let anyone in.
    await page.get_by_role("button", name="Leave").click()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await wait_until(lambda: "ashley" not in server.game.online)
    await page.reload()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    # ...until the password is given again.
    await page.get_by_label("Name").fill("ashley")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(output).to_contain_text("Welcome back, Ashley")

    # A telnet login takes the character over: the page says so and does not fight back.
    taker = await login(server, "Ashley", create=False)
    assert "You take over your body" in taker.text_plain
    ended = page.get_by_role("alertdialog")
    await expect(ended).to_contain_text("Someone has connected as you from elsewhere.")
    await wait_until(lambda: server.game.online["ashley"].link.conn.kind == "telnet")
    await ended.get_by_role("button", name="Back to the login screen").click()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert server.game.online["ashley"].link.conn.kind == "telnet"

    assert errors == []
    await tel.close()
    await taker.close()
    await desk.close()
    await phone.close()


async def test_items_and_channel_tabs_in_the_browser(server, browser):
    """The inventory panels follow Char.Items (get and drop change them); the channel tabs
    split Comm.Channel.Text by channel, with unread counts; both work on a phone too."""
    base = f"http://127.0.0.1:{server.web_port}/"
    errors: list[str] = []
    desk = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await desk.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await create_character(page, base, "Ashley")
    # The page asked for Char.Items by name, as well as Char, Room and Comm.Channel.
    await wait_until(lambda: "char.items" in (server.game.online["ashley"].link.supports
                                              or set()))
    assert server.game.online["ashley"].link.supports >= {"char", "room", "comm.channel"}

    # The journalist's kit: carried, and worn with where.
    carried, worn, ground = page.locator("#carried"), page.locator("#worn"), page.locator("#ground")
    await expect(carried.get_by_role("button", name="a stub of pencil")).to_be_visible()
    await expect(carried).to_contain_text("20 coins")
    await expect(worn.locator("li", has_text="a grey fedora")).to_contain_text("on your head")
    await expect(worn.locator("li", has_text="a leather satchel")).to_contain_text("at your belt")
    await expect(page.locator("#ground-empty")).to_be_visible()

    # Dropping moves the pencil from the hands to the ground; part of a stack splits it.
    command = page.get_by_label("Command")
    await command.fill("drop pencil")
    await command.press("Enter")
    await expect(ground.get_by_role("button", name="a stub of pencil")).to_be_visible()
    await expect(carried.get_by_role("button", name="a stub of pencil")).to_have_count(0)
    await expect(page.locator("#ground-empty")).to_be_hidden()
    await command.fill("drop 5 coins")
    await command.press("Enter")
    await expect(ground.get_by_role("button", name="5 coins")).to_be_visible()
    await expect(carried.get_by_role("button", name="15 coins")).to_be_visible()

    # Clicking a thing on the ground puts "get ..." on the command line; Enter picks it up.
    await ground.get_by_role("button", name="a stub of pencil").click()
    await expect(command).to_have_value("get pencil")
    await expect(command).to_be_focused()
    await command.press("Enter")
    await expect(carried.get_by_role("button", name="a stub of pencil")).to_be_visible()
    await expect(ground.get_by_role("button", name="a stub of pencil")).to_have_count(0)
    char = server.game.online["ashley"]
    assert any(i.proto.id == "pencil" for i in char.items)
    # A thing carried gives "examine ...".
    await carried.get_by_role("button", name="a leather-bound journal").click()
    await expect(command).to_have_value("examine journal")
    await command.fill("")

    # Channel tabs: All (selected) and one per channel heard.
    tabs = page.get_by_role("tablist", name="Show channel")
    all_tab = tabs.get_by_role("tab", name="All")
    global_tab = tabs.get_by_role("tab", name=re.compile(r"^Global"))
    await expect(all_tab).to_have_attribute("aria-selected", "true")
    await expect(global_tab).to_be_visible()
    await expect(tabs.get_by_role("tab", name=re.compile(r"^Whisper"))).to_be_visible()

    # A second player, on a phone, talks on the global channel: Ashley's Global tab counts it.
    phone = await browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True,
                                      has_touch=True)
    page2 = await phone.new_page()
    page2.on("pageerror", lambda exc: errors.append(str(exc)))
    await create_character(page2, base, "Bartholomew")
    await page2.get_by_label("Command").fill("global The stars are wrong tonight.")
    await page2.get_by_label("Command").press("Enter")
    line = "[Global] Bartholomew: The stars are wrong tonight."
    await expect(page.locator("#output")).to_contain_text(line)
    await expect(global_tab.locator(".badge")).to_have_text("1 unread")
    await save_screenshot(page, "channels-unread.png")
    await command.fill("say Hello?")
    await command.press("Enter")
    await expect(page.locator("#output")).to_contain_text("You say, 'Hello?'")
    # One's own lines are not unread.
    await expect(tabs.get_by_role("tab", name=re.compile(r"^Say"))).to_have_accessible_name("Say")

    await global_tab.click()
    await expect(global_tab).to_have_attribute("aria-selected", "true")
    await expect(all_tab).to_have_attribute("aria-selected", "false")
    channel = page.locator("#channel-output")
    await expect(channel).to_have_text(line)
    await expect(page.locator("#output")).to_be_hidden()
    await expect(global_tab.locator(".badge")).to_be_hidden()
    # While it is shown, new lines on it appear there and are not counted.
    await page2.get_by_label("Command").fill("global Does anyone hear me?")
    await page2.get_by_label("Command").press("Enter")
    await expect(channel.locator(".chunk")).to_have_count(2)
    await expect(channel).to_contain_text("[Global] Bartholomew: Does anyone hear me?")
    await expect(global_tab.locator(".badge")).to_be_hidden()
    await save_screenshot(page, "channels.png")
    # The Say tab holds only the say.
    await tabs.get_by_role("tab", name=re.compile(r"^Say")).click()
    await expect(channel).to_have_text("You say, 'Hello?'")
    await all_tab.click()
    await expect(page.locator("#output")).to_be_visible()
    await expect(channel).to_be_hidden()
    await save_screenshot(page, "items.png")

    # The phone: tabs over the text, the things behind Items, nothing wider than the screen.
    await expect(page2.get_by_role("tab", name="All")).to_be_visible()
    await expect(page2.locator("#side-items")).to_be_hidden()
    await page2.get_by_role("button", name="Items").click()
    await expect(page2.locator("#carried").get_by_role("button", name="a stub of pencil")) \
        .to_be_visible()
    assert await page2.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await save_screenshot(page2, "items-phone.png")
    await page2.locator("#worn").get_by_role("button", name="a grey fedora").click()
    await expect(page2.locator("#side-items")).to_be_hidden()
    await expect(page2.get_by_label("Command")).to_have_value("examine fedora")
    await page2.get_by_role("tab", name=re.compile(r"^Global")).click()
    await expect(page2.locator("#channel-output")).to_contain_text(
        "[Global] You: Does anyone hear me?")
    await save_screenshot(page2, "channels-phone.png")

    assert errors == []
    await desk.close()
    await phone.close()


async def test_map_of_explored_rooms_and_mythos_time_in_the_browser(server, browser):
    """The mini-map is drawn from the server's Room.Map: a browser that has never seen the
    character (nothing stored) shows every room explored before; the hour in Arkham shows
    from Mythos.Time, which the page asks for by name."""
    base = f"http://127.0.0.1:{server.web_port}/"
    start = server.game.world.start_room
    direction, target = walkable_exit(server, start)
    errors: list[str] = []
    first = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await first.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await create_character(page, base, "Wilmarth")
    await wait_until(lambda: "mythos" in (server.game.online["wilmarth"].link.supports
                                          or set()))
    clock = page.get_by_label("Time in Arkham")
    now = server.game.lucidity.mythos_now()
    await expect(clock).to_be_visible()
    await expect(clock).to_contain_text(f"{now.strftime('%A')}, {now.day} "
                                        f"{now.strftime('%B')} {now.year}")
    await expect(clock).to_have_text(re.compile(r"(\d+ [ap]m|noon|midnight) · "))
    await page.get_by_role("button", name=direction, exact=True).click()
    await expect(page.locator(f'#map [data-room="{target}"].here')).to_have_count(1)
    await wait_until(lambda: target in server.game.online["wilmarth"].mind.explored)
    await page.get_by_role("button", name="Leave").click()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await wait_until(lambda: "wilmarth" not in server.game.online)
    await first.close()

    # Another browser: no cookies, no storage; the map is the server's.
    other = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await other.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base)
    await page.get_by_label("Name").fill("Wilmarth")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#output")).to_contain_text("Welcome back, Wilmarth")
    await expect(page.locator(f'#map [data-room="{target}"].here')).to_have_count(1)
    await expect(page.locator(f'#map [data-room="{start}"]')).to_have_count(1)
    # And after a reload, the same.
    await page.reload()
    await expect(page.locator("#output")).to_contain_text("Welcome back, Wilmarth")
    await expect(page.locator(f'#map [data-room="{start}"]')).to_have_count(1)
    await expect(page.get_by_label("Time in Arkham")).to_be_visible()
    assert await page.evaluate("localStorage.length") == 0
    await page.wait_for_timeout(600)  # the bars' fill animation, for the picture only
    await save_screenshot(page, "map-and-time.png")
    assert errors == []
    await other.close()
