"""Checks of what a reader reads on a rendered page: small pure functions over one page's HTML.

Each function returns the offending snippets (empty when the page is clean), so the rendered-book test
can name what is wrong on which page. The kinds of text they catch are those a reader reported:

* :func:`repeated_paragraphs` - the same paragraph printed more than once on a page;
* :func:`raw_markdown` - markdown or TeX that was not rendered (``**``, ``\\(``, ``\\)``, ``$$`` in
  the text, outside math);
* :func:`dashes_in_code` - typographic dashes (en dash, em dash, minus sign) inside ``code`` or
  ``pre``, which break a command copied from the page;
* :func:`log_lines` - Keras training logs, TensorFlow and absl log lines and retracing warnings.

Code cell *inputs* are left out of the dash and log checks: a chapter's own code ran, so a typographic
dash in it can only sit in a string it prints, and a comment may mention a log message it silences.
The HTML is read with the standard library's parser, so the checks need nothing beyond Python.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                       "track", "wbr"})
SKIPPED_TAGS = frozenset({"head", "script", "style", "template", "svg"})
CODE_TAGS = frozenset({"pre", "code", "kbd", "samp"})
BLOCK_TAGS = frozenset({"p", "div", "pre", "br", "li", "tr", "td", "th", "table", "section", "h1", "h2", "h3",
                        "h4", "h5", "h6", "dt", "dd", "figcaption", "blockquote"})
MATH_CLASSES = frozenset({"math", "tex2jax_process", "mathjax_process", "output_area"})
"""Elements MathJax typesets (myst's ``mathjax_classes``); the rest of a page is marked tex2jax_ignore."""
INPUT_CLASS = "cell_input"
MIN_PARAGRAPH = 60
"""Shorter paragraphs ("Data: emulated.", a bare number) may repeat on purpose."""
DASHES = {"\N{EN DASH}": "en dash", "\N{EM DASH}": "em dash", "\N{MINUS SIGN}": "minus sign"}
MARKDOWN_MARKERS = ("**", "\\(", "\\)", "$$")
LOG_PATTERNS = {
    "Keras epoch line": re.compile(r"\bEpoch \d+/\d+\b"),
    "Keras progress": re.compile(r"\d+\s?(?:ms|us|s)/step\b"),
    "TensorFlow warning": re.compile(r"WARNING:tensorflow\b"),
    "absl warning": re.compile(r"WARNING:absl\b|absl::InitializeLog"),
    "tf.function retracing": re.compile(r"tf\.function retracing|\bretracing\b.*\btf\.function\b"),
    "absl/TF log prefix": re.compile(r"\b[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+\s+[\w./-]+:\d+\]"),
    "TF C++ log prefix": re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [\w./-]+:\d+\]"),
}


@dataclass(frozen=True)
class Chunk:
    """A run of page text and where it sits: in code, in math, in a code cell's input."""

    text: str
    code: bool
    math: bool
    cell_input: bool


@dataclass(frozen=True)
class Page:
    """One page's visible text as chunks (with block breaks as newlines) and its paragraphs."""

    chunks: tuple[Chunk, ...]
    paragraphs: tuple[str, ...]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, frozenset[str]]] = []
        self.chunks: list[Chunk] = []
        self.paragraphs: list[str] = []
        self.paragraph: list[str] | None = None

    def _inside(self, tags: frozenset[str] = frozenset(), classes: frozenset[str] = frozenset()) -> bool:
        return any(tag in tags or cls & classes for tag, cls in self.stack)

    def _add(self, text: str) -> None:
        if self._inside(SKIPPED_TAGS):
            return
        code = self._inside(CODE_TAGS)
        self.chunks.append(Chunk(text, code, self._inside(classes=MATH_CLASSES),
                                 self._inside(classes=frozenset({INPUT_CLASS}))))
        if self.paragraph is not None and not code:
            self.paragraph.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self._add("\n")
        if tag in VOID_TAGS:
            return
        classes = frozenset(" ".join(v or "" for k, v in attrs if k == "class").split())
        self.stack.append((tag, classes))
        if tag == "p" and not self._inside(SKIPPED_TAGS | CODE_TAGS):
            self.paragraph = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.paragraph is not None:
            text = " ".join("".join(self.paragraph).split())
            if text:
                self.paragraphs.append(text)
            self.paragraph = None
        for depth in range(len(self.stack) - 1, -1, -1):  # close the nearest open element of this name
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                break
        if tag in BLOCK_TAGS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        self._add(data)


def read_page(html: str) -> Page:
    """Parse one page's HTML into its text chunks and paragraphs (scripts, styles and head left out)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Page(tuple(reader.chunks), tuple(reader.paragraphs))


def _snippet(text: str, start: int, end: int, margin: int = 30) -> str:
    return " ".join(text[max(0, start - margin):end + margin].split())


def _joined(page: Page, keep: Callable[[Chunk], bool]) -> str:
    """The text of the chunks ``keep`` accepts, runs of other chunks replaced by a line break."""
    return "".join(chunk.text if keep(chunk) else "\n" for chunk in page.chunks)


def repeated_paragraphs(html: str, min_chars: int = MIN_PARAGRAPH) -> list[str]:
    """Paragraphs of at least ``min_chars`` characters that appear more than once on the page."""
    counts = Counter(p for p in read_page(html).paragraphs if len(p) >= min_chars)
    return [f"{n}x: {text[:80]!r}" for text, n in counts.items() if n > 1]


def raw_markdown(html: str) -> list[str]:
    """Markdown or TeX markers left in the text (outside code and math): rendering missed them."""
    text = _joined(read_page(html), lambda c: not c.code and not c.math)
    found = []
    for marker in MARKDOWN_MARKERS:
        found += [f"{marker!r} in {_snippet(text, m.start(), m.end())!r}"
                  for m in re.finditer(re.escape(marker), text)]
    return found


def dashes_in_code(html: str) -> list[str]:
    """Typographic dashes inside ``code``/``pre`` (code cell inputs excepted, see the module docstring)."""
    text = _joined(read_page(html), lambda c: c.code and not c.cell_input)
    return [f"{DASHES[m.group()]} in {_snippet(text, m.start(), m.end())!r}"
            for m in re.finditer("|".join(DASHES), text)]


def log_lines(html: str) -> list[str]:
    """Lines of training or TensorFlow/absl logs anywhere on the page but in code cell inputs."""
    text = _joined(read_page(html), lambda c: not c.cell_input)
    found = []
    for line in text.splitlines():
        found += [f"{kind}: {' '.join(line.split())[:120]!r}" for kind, pattern in LOG_PATTERNS.items()
                  if pattern.search(line)]
    return found


CHECKS = {"repeated paragraph": repeated_paragraphs, "raw markdown": raw_markdown,
          "typographic dash in code": dashes_in_code, "log line": log_lines}


def text_problems(html: str) -> list[str]:
    """Every text problem of a page, each prefixed with the kind of check that found it."""
    return [f"{kind}: {problem}" for kind, check in CHECKS.items() for problem in check(html)]
