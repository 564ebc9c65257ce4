"""Colour markup and the sanitizing of player text."""

from hypothesis import given
from hypothesis import strategies as st

from mythos.text import Shared, player_text, render, rendered_line, sanitize, strip_markup


def test_markup_renders_as_ansi_or_plain():
    assert render("{R}Boo{x} there", ansi=True) == "\x1b[1;31mBoo\x1b[0m there"
    assert render("{R}Boo{x} there", ansi=False) == "Boo there"
    assert render("{{literal} brace", ansi=True) == "{literal} brace"


def test_colour_never_left_open():
    assert render("{g}green to the end", ansi=True).endswith("\x1b[0m")
    assert render("plain", ansi=True) == "plain"


def test_a_shared_line_renders_as_plain_markup_does_and_once_per_mode():
    line = Shared("{g}Annie says, 'hello'{x}")
    for ansi in (True, False):
        want = render("{g}Annie says, 'hello'{x}", ansi=ansi) + "\n"
        assert line.rendered(ansi) == rendered_line(line, ansi) == want
        assert rendered_line("{g}Annie says, 'hello'{x}", ansi) == want
        assert line.rendered(ansi) is line.rendered(ansi)  # kept, not rendered again
    assert rendered_line("two\nlines\n", False) == "two\nlines\n"  # one new line at the end


def test_sanitize_strips_escapes_and_controls():
    assert sanitize("\x1b[31mred\x1b[0m") == "red"
    assert sanitize("a\x07b\x00c\x7fd") == "abcd"
    assert sanitize("osc\x1b]0;title\x07 gone") == "osc gone"
    assert sanitize("tab\there") == "tab here"
    assert sanitize("bidi\u202eevil") == "bidievil"


def test_player_text_cannot_inject_markup():
    said = player_text("{R}shout")
    assert render(said, ansi=True) == "{R}shout"
    assert strip_markup(said) == "{R}shout"


@given(st.text())
def test_player_text_never_carries_escapes_or_controls(text):
    shown = render(player_text(text), ansi=True)
    assert "\x1b" not in shown
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in shown)
