"""Markdown rendering for the transcript, and the cut points of streamed Markdown."""

from __future__ import annotations

import re
import threading

from hypothesis import given
from hypothesis import strategies as st

from autoglm_desktop.qt.common import markdown_render
from autoglm_desktop.qt.common.markdown_render import (
    FinishedBlockSplitter,
    code_style_background,
    render_markdown,
)

PYTHON_FENCE = "```python\ndef double(x):\n    return x * 2  # <b>not bold</b>\n```\n"


def test_raw_html_in_the_text_is_escaped() -> None:
    html = render_markdown('Hi <script>alert("x")</script> <b>bold?</b>', dark=False).html

    assert "<script" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html


def test_only_http_links_become_links() -> None:
    text = (
        "[web](https://example.org) [js](javascript:alert(1)) [file](file:///etc/passwd) "
        "[edit](action:edit?entry=1) [copy](copy-code:0?entry=1) [rel](notes.txt)"
    )

    hrefs = re.findall(r'href="([^"]*)"', render_markdown(text, dark=False).html)

    assert hrefs == ["https://example.org"]


def test_images_are_links_not_loaded_images() -> None:
    html = render_markdown("![a cat](https://example.org/cat.png) ![x](/etc/x.png)", dark=False)

    assert "<img" not in html.html
    assert '<a href="https://example.org/cat.png">a cat</a>' in html.html


def test_code_block_is_highlighted_with_inline_styles_and_a_copy_link() -> None:
    rendered = render_markdown("Intro\n\n" + PYTHON_FENCE, dark=False)

    assert rendered.code_blocks == ("def double(x):\n    return x * 2  # <b>not bold</b>",)
    assert '<a href="copy-code:0">Copy</a>' in rendered.html
    assert re.search(r'<span style="[^"]*color: #[0-9a-fA-F]{6}[^"]*">def</span>', rendered.html)
    assert "&lt;b&gt;not bold&lt;/b&gt;" in rendered.html
    assert "class=" not in rendered.html


def test_copy_links_count_on_from_the_first_index_and_carry_the_query() -> None:
    text = "```\nfirst\n```\n\n    indented code\n\n```rust\nfn main() {}\n```\n"

    rendered = render_markdown(text, dark=True, first_code_index=3, copy_link_query="entry=7")

    assert rendered.code_blocks == ("first", "indented code", "fn main() {}")
    hrefs = re.findall(r'href="(copy-code:[^"]*)"', rendered.html)
    assert hrefs == ["copy-code:3?entry=7", "copy-code:4?entry=7", "copy-code:5?entry=7"]


def test_unknown_language_is_shown_as_plain_escaped_text() -> None:
    rendered = render_markdown("```no-such-language\na < b\n```\n", dark=False)

    assert rendered.code_blocks == ("a < b",)
    assert "a &lt; b" in rendered.html


def test_light_and_dark_code_styles_differ() -> None:
    light = render_markdown(PYTHON_FENCE, dark=False).html
    dark = render_markdown(PYTHON_FENCE, dark=True).html

    assert code_style_background(dark=False) in light
    assert code_style_background(dark=True) in dark
    assert code_style_background(dark=False) != code_style_background(dark=True)


def test_tables_and_strikethrough_are_rendered() -> None:
    html = render_markdown("| a | b |\n|---|---|\n| 1 | ~~2~~ |\n", dark=False).html

    assert "<table" in html
    assert "<td><s>2</s></td>" in html


def test_the_copy_label_can_be_given() -> None:
    html = render_markdown("```\nx\n```\n", dark=False, copy_label="复制").html

    assert '<a href="copy-code:0">复制</a>' in html


# --- FinishedBlockSplitter ---------------------------------------------------------------


def feed_in_chunks(text: str, size: int) -> list[str]:
    splitter = FinishedBlockSplitter()
    pieces = [splitter.feed(text[i : i + size]) for i in range(0, len(text), size)]
    return [piece for piece in pieces if piece is not None]


def test_splitter_cuts_after_blank_lines_and_closed_fences() -> None:
    text = (
        "# Title\n\nFirst *paragraph*.\n\n```python\ndef f():\n\n    return 1\n```\n"
        "After the fence\n\nunfinished"
    )

    pieces = feed_in_chunks(text, 3)

    assert pieces == [
        "# Title\n\n",
        "First *paragraph*.\n\n",
        "```python\ndef f():\n\n    return 1\n```\n",
        "After the fence\n\n",
    ]


def test_splitter_waits_while_the_next_line_is_indented() -> None:
    text = "1. item\n\n    continued in the item\n\nNext"

    assert feed_in_chunks(text, 2) == ["1. item\n\n    continued in the item\n\n"]


def test_splitter_never_cuts_inside_an_open_fence() -> None:
    assert feed_in_chunks("```\ncode\n\nmore code\n\nstill code", 1) == []


@given(
    blocks=st.lists(
        st.sampled_from(
            [
                "Plain paragraph.\n\n",
                "```py\nx = 1\n\ny = 2\n```\n",
                "~~~\ntilde fence\n\n~~~\n",
                "- item\n\n  indented\n\n",
                "    indented code\n\n",
                "`inline ``` not a fence`\n\n",
                "text 😀 emoji\n",
                "\n",
            ]
        ),
        max_size=12,
    ),
    chunk_size=st.integers(min_value=1, max_value=40),
)
def test_splitter_pieces_are_whole_lines_outside_fences(blocks: list[str], chunk_size: int) -> None:
    text = "".join(blocks) + "end"

    pieces = feed_in_chunks(text, chunk_size)

    finished = "".join(pieces)
    assert text.startswith(finished)
    offset = 0
    for piece in pieces:
        offset += len(piece)
        assert piece.endswith("\n")
        assert _fences_are_closed(text[:offset])


def _fences_are_closed(text: str) -> bool:
    open_fence = ""
    for line in text.splitlines():
        marker = re.match(r"^[ \t>]*(`{3,}|~{3,})(.*)$", line)
        if open_fence:
            if marker and marker.group(1).startswith(open_fence) and not marker.group(2).strip():
                open_fence = ""
        elif marker and not (marker.group(1)[0] == "`" and "`" in marker.group(2)):
            open_fence = marker.group(1)
    return not open_fence


def test_warm_up_prepares_the_highlighters_from_a_worker_thread() -> None:
    markdown_render._lexer.cache_clear()
    worker = threading.Thread(target=markdown_render.warm_up)
    worker.start()
    worker.join()

    cached = markdown_render._lexer.cache_info().currsize
    assert cached == len(set(markdown_render.COMMON_CODE_LANGUAGES))
    python = markdown_render.render_markdown("```python\nx = 1\n```", dark=True)
    assert "<span" in python.html  # highlighted
