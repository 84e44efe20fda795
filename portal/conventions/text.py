"""Article text: a light Markdown (paragraphs, lists, emphasis) rendered to HTML, sanitised with
an allow-list, its `{{ variables }}` filled from the convention's data; and word diffs.

Raw HTML typed by a user is never rendered (markdown-it escapes it) and the output goes through
nh3 anyway, so an article cannot carry a script into a page or a PDF.
"""

from __future__ import annotations

import difflib
import functools
import html
import re
from collections.abc import Mapping

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(
    [
        "image",
        "heading",
        "lheading",
        "code",
        "fence",
        "html_block",
        "html_inline",
        "hr",
        "reference",
        "link",
        "autolink",
        "backticks",
        "entity",
    ]
)
ALLOWED_TAGS = {"p", "ul", "ol", "li", "em", "strong", "br", "blockquote"}
VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def variables_in(source: str) -> set[str]:
    return set(VARIABLE.findall(source))


def render(source: str, values: Mapping[str, str]) -> Markup:
    """Markdown → sanitised HTML with the variables filled; an unknown variable stays visible,
    marked, so nobody signs a text with a hole in it."""
    cleaned = _sanitised(source)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return html.escape(values[name])
        return f'<mark class="unknown-variable">{{{{ {html.escape(name)} }}}}</mark>'

    return Markup(VARIABLE.sub(fill, cleaned))  # noqa: S704 - sanitised by nh3, values escaped


# A convention page renders each of its articles at every view, a text that rarely changes:
# Markdown and nh3 took a tenth of that page's CPU. A few hundred kilobytes at most.
@functools.lru_cache(maxsize=512)
def _sanitised(source: str) -> str:
    return str(nh3.clean(_md.render(source), tags=ALLOWED_TAGS, attributes={}))


_TOKENS = re.compile(r"\s+|[^\s]+")
REWRITTEN = 0.4  # below this similarity, a text counts as rewritten


def diff_html(old: str, new: str) -> Markup:
    """A readable word diff of two texts: removals in <del>, additions in <ins>."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if a and b and matcher.ratio() < REWRITTEN:
        # A rewrite reads better as old text then new text than as interleaved word swaps.
        return Markup(  # noqa: S704 - both texts are escaped
            f"<del>{html.escape(old)}</del> <ins>{html.escape(new)}</ins>"
        )
    parts: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(html.escape("".join(a[i1:i2])))
            continue
        if op in {"delete", "replace"}:
            parts.append(f"<del>{html.escape(''.join(a[i1:i2]))}</del>")
        if op in {"insert", "replace"}:
            parts.append(f"<ins>{html.escape(''.join(b[j1:j2]))}</ins>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above
