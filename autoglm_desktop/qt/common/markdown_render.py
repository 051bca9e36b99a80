"""Markdown -> HTML for QTextDocument, plus the cut points of Markdown that is still streaming.

QTextDocument understands a subset of HTML 4 and of CSS, so the output uses inline styles only
(no classes, no style sheets, no scripts). Raw HTML in the model's text is escaped, never
rendered, and only http(s) links survive: a link to anything else (`file:`, `javascript:`,
the view's own `action:` and `copy-code:` schemes) is shown as plain text.

markdown-it stops parsing, and silently drops the rest of the text, where blocks nest deeper
than its `maxNesting` (a recursion guard): such text is rendered as plain text instead.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound
from PySide6.QtCore import QCoreApplication

COPY_CODE_SCHEME = "copy-code"
CODE_PAD = 12  # a code block's text sits this far inside its ground (left and right)
# The strip above a code block (language, Copy) and its text, per theme.
CODE_HEADER_LIGHT, CODE_LABEL_LIGHT = "#e8ebef", "#57606a"
CODE_HEADER_DARK, CODE_LABEL_DARK = "#21262d", "#9198a1"
TABLE_BORDER_LIGHT, TABLE_HEAD_LIGHT = "#d0d7de", "#f0f3f6"
TABLE_BORDER_DARK, TABLE_HEAD_DARK = "#3d444d", "#21262d"
LIGHT_CODE_STYLE = "default"
DARK_CODE_STYLE = "github-dark"
_SAFE_LINK_SCHEMES = ("http://", "https://")
# Lists and block quotes nested deeper than this (a list level counts 2) make the text plain;
# markdown-it's commonmark preset has 20, which drops the text after 10 nested lists.
MAX_NESTING = 50
_TOO_DEEP = "too_deep"  # set in the render environment when the nesting limit was reached


@dataclass(frozen=True)
class RenderedMarkdown:
    html: str
    code_blocks: tuple[str, ...]  # raw text of each code block, in order; N of copy-code:N


def render_markdown(
    text: str,
    *,
    dark: bool,
    first_code_index: int = 0,
    copy_link_query: str = "",
    copy_label: str | None = None,
) -> RenderedMarkdown:
    """Render Markdown (CommonMark + tables + strikethrough) as HTML for a QTextDocument.

    Args:
        text: the Markdown source (untrusted: it comes from the model).
        dark: pick the dark code style (for a dark palette).
        first_code_index: N of the first code block's `copy-code:N` link; a streaming view
            that renders a reply piece by piece continues the numbering of earlier pieces.
        copy_link_query: appended to each copy link after `?` (the view says which message).
        copy_label: text of the copy links; defaults to the translated "Copy".
    """
    env: dict[str, Any] = {
        "dark": dark,
        "code_blocks": [],
        "first_code_index": first_code_index,
        "query": f"?{copy_link_query}" if copy_link_query else "",
        "copy_label": copy_label or QCoreApplication.translate("MarkdownRender", "Copy"),
    }
    rendered = _markdown().render(text, env)
    if env.get(_TOO_DEEP):
        return render_plain(text)
    return RenderedMarkdown(html=rendered, code_blocks=tuple(env["code_blocks"]))


# Languages models write most often: their highlighters are prepared by warm_up().
COMMON_CODE_LANGUAGES = (
    "python", "bash", "sh", "javascript", "typescript", "json", "c", "cpp", "java", "go",
    "rust", "sql", "html", "css", "yaml",
)  # fmt: skip


def warm_up() -> None:
    """Do once, ahead of time, what the first reply would otherwise do on the GUI thread.

    The first use of the parser, of each code highlighter (Pygments imports its module and
    compiles its patterns on first use) and of each theme's code style costs tens of
    milliseconds. Safe to call from a worker thread: it only fills this module's caches.
    """
    fences = "\n\n".join(f"```{language}\nx = 1\n```" for language in COMMON_CODE_LANGUAGES)
    sample = (
        f"# T\n\n*a* **b** `c` [d](https://e)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- x\n\n{fences}"
    )
    for dark in (False, True):
        render_markdown(sample, dark=dark, copy_label="Copy")


def render_plain(text: str, *, monospace: bool = True) -> RenderedMarkdown:
    """Text shown as it is (no Markdown), its lines kept: for what cannot be rendered safely."""
    font = " font-family:monospace;" if monospace else ""
    # One block, never empty: a trailing newline would add an empty block, and a later
    # QTextCursor.insertHtml at an empty block loses the state of the block before it.
    body = html.escape(text.rstrip("\n")) or "&nbsp;"
    return RenderedMarkdown(
        html=f'<p style="white-space:pre-wrap; margin-top:0px; margin-bottom:0px;{font}">'
        f"{body}</p>",
        code_blocks=(),
    )


def code_style_background(*, dark: bool) -> str:
    return str(get_style_by_name(DARK_CODE_STYLE if dark else LIGHT_CODE_STYLE).background_color)


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "maxNesting": MAX_NESTING})
    md.enable(["table", "strikethrough"])
    tokenize = md.block.tokenize

    def tokenize_noting_depth(state: StateBlock, start_line: int, end_line: int) -> None:
        # markdown-it skips what lies deeper than maxNesting: note it, to render plain text.
        if state.level >= MAX_NESTING and state.skipEmptyLines(start_line) < end_line:
            state.env[_TOO_DEEP] = True
        tokenize(state, start_line, end_line)

    md.block.tokenize = tokenize_noting_depth  # type: ignore[method-assign,assignment]
    md.validateLink = _is_safe_link  # type: ignore[method-assign]
    md.add_render_rule("fence", _render_code_block)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("image", _render_image_as_link)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("th_open", _render_table_head_cell)
    return md


def _is_safe_link(url: str) -> bool:
    return url.strip().lower().startswith(_SAFE_LINK_SCHEMES)


def _render_code_block(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    code = token.content[:-1] if token.content.endswith("\n") else token.content
    index = env["first_code_index"] + len(env["code_blocks"])
    env["code_blocks"].append(code)
    dark = env["dark"]
    strip = code_header_background(dark=dark)
    muted = CODE_LABEL_DARK if dark else CODE_LABEL_LIGHT
    label = f"{html.escape(language)}&nbsp;&nbsp;·&nbsp;&nbsp;" if language else ""
    copy_link = f'<a href="{COPY_CODE_SCHEME}:{index}{env["query"]}">{env["copy_label"]}</a>'
    background = code_style_background(dark=dark)
    inset = {"left_margin": CODE_PAD, "right_margin": CODE_PAD}
    # Plain blocks with a background, no table: every table is a QTextFrame, and QTextDocument
    # walks all frames of the document on each edit, which would make streaming slower as the
    # conversation grows. Thin blank lines above and below stand in for padding; a strip on
    # top names the language and holds the Copy link. The chat view paints a rounded ground
    # under it all, in the margins left free (see chat/block_shapes.py).
    return (
        f'<p style="margin-top:10px; margin-bottom:0px; font-size:2pt; '
        f'background-color:{strip}; margin-left:{CODE_PAD}px; margin-right:{CODE_PAD}px;">'
        "&nbsp;</p>"
        f'<p style="margin:0px; font-size:small; background-color:{strip}; color:{muted}; '
        f'margin-left:{CODE_PAD}px; margin-right:{CODE_PAD}px;">{label}{copy_link}</p>'
        f"{padding_line_html(strip, bottom_margin=0, **inset)}"
        f"{padding_line_html(background, bottom_margin=0, **inset)}"
        f'<pre style="background-color:{background}; margin:0px; white-space:pre-wrap; '
        f'margin-left:{CODE_PAD}px; margin-right:{CODE_PAD}px;">'
        f"{_highlight(code, language, dark=dark)}</pre>"
        f"{padding_line_html(background, bottom_margin=10, **inset)}\n"
    )


def padding_line_html(
    background: str, *, bottom_margin: int, left_margin: int = 0, right_margin: int = 0
) -> str:
    """A thin blank line with a background: the top or bottom padding of a shaded block."""
    return (
        f'<p style="background-color:{background}; font-size:4pt; margin-top:0px; '
        f"margin-bottom:{bottom_margin}px; margin-left:{left_margin}px; "
        f'margin-right:{right_margin}px;">&nbsp;</p>'
    )


def code_header_background(*, dark: bool) -> str:
    """The strip above a code block, with its language and Copy link."""
    return CODE_HEADER_DARK if dark else CODE_HEADER_LIGHT


def _highlight(code: str, language: str, *, dark: bool) -> str:
    highlighted: str = highlight(code, _lexer(language), _formatter(dark))
    return highlighted[:-1] if highlighted.endswith("\n") else highlighted


@functools.lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer:
    # stripnl=False: show leading and trailing blank lines exactly as they will be copied.
    try:
        return get_lexer_by_name(language, stripnl=False) if language else TextLexer()
    except ClassNotFound:
        return TextLexer()


@functools.cache
def _formatter(dark: bool) -> HtmlFormatter:
    style = DARK_CODE_STYLE if dark else LIGHT_CODE_STYLE
    return HtmlFormatter(style=style, noclasses=True, nowrap=True)


def _render_image_as_link(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    # No remote or local images in a private chat: show a link the user may choose to open.
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    return f'<a href="{html.escape(src)}">{html.escape(alt or src)}</a>'


def _render_table_open(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    dark = env["dark"]
    border = TABLE_BORDER_DARK if dark else TABLE_BORDER_LIGHT
    return (
        f'<table border="1" cellspacing="0" cellpadding="6" '
        f'style="border-collapse:collapse; border-color:{border}; margin-top:6px; '
        f'margin-bottom:10px;">\n'
    )


def _render_table_head_cell(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    head = TABLE_HEAD_DARK if env["dark"] else TABLE_HEAD_LIGHT
    tokens[idx].attrSet("bgcolor", head)
    rendered: str = renderer.renderToken(tokens, idx, options, env)
    return rendered


# --- streaming ------------------------------------------------------------------------------

_FENCE_LINE = re.compile(r"^[ \t>]*(`{3,}|~{3,})(.*)$")


class FinishedBlockSplitter:
    """Cuts streamed Markdown into pieces that can be rendered on their own.

    A cut goes after a blank line or a closing code fence, never inside an open fence, and only
    once the next line has started without indentation (an indented line may still belong to
    the list item above). Work per fed character is constant.
    """

    def __init__(self) -> None:
        self._pending: list[str] = []  # text fed since the last cut
        self._pending_len = 0
        self._line: list[str] = []  # the unfinished last line
        self._line_len = 0
        self._open_fence: str | None = None  # e.g. "```" while a fenced code block is open
        self._cut: int | None = None  # candidate cut, an offset into the pending text

    def feed(self, text: str) -> str | None:
        """Add streamed text; return the finished text before a new cut, if there is one."""
        committed: int | None = None
        position = 0
        while position <= len(text):
            newline = text.find("\n", position)
            segment = text[position:] if newline < 0 else text[position:newline]
            if self._cut is not None and not self._line_len and segment[:1] not in ("", " ", "\t"):
                committed = self._cut
                self._cut = None
            self._line.append(segment)
            self._line_len += len(segment)
            if newline < 0:
                break
            self._end_line(self._pending_len + newline + 1)
            position = newline + 1
        self._pending.append(text)
        self._pending_len += len(text)
        if not committed:
            return None
        pending = "".join(self._pending)
        self._pending = [pending[committed:]]
        self._pending_len -= committed
        if self._cut is not None:
            self._cut -= committed
        return pending[:committed]

    def _end_line(self, offset_after_line: int) -> None:
        line = "".join(self._line)
        self._line = []
        self._line_len = 0
        fence = _FENCE_LINE.match(line)
        marker, info = (fence.group(1), fence.group(2)) if fence else ("", "")
        if self._open_fence is not None:
            closes = marker[:1] == self._open_fence[0] and len(marker) >= len(self._open_fence)
            if closes and not info.strip():
                self._open_fence = None
                self._cut = offset_after_line
            return
        if marker and not (marker[0] == "`" and "`" in info):
            self._open_fence = marker
            self._cut = None
        elif not line.strip():
            self._cut = offset_after_line
        else:
            self._cut = None  # an indented line right after the blank one: wait for more
