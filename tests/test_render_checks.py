"""The rendered-book text checks fire on each kind of defect a reader met, and stay quiet on clean pages.

The pages here are SYNTHETIC HTML shaped like Jupyter Book 1.x output (myst-nb cells, Sphinx math
spans, a themed head with scripts and styles), each made once clean and once with one defect.
"""

from __future__ import annotations

import pytest

from tests import render_checks as checks

HEAD = ("<html><head><title>A chapter ** $$</title><style>pre { white-space: pre-wrap; }</style>"
        "<script>var x = '**'; // Epoch 1/3 \u2013</script></head>")
PARAGRAPH = "The robustness of the finding is judged on per-channel shares of mean absolute attribution."
CODE_CELL = ('<div class="cell docutils container"><div class="cell_input docutils container">'
             '<div class="highlight-ipython3 notranslate"><div class="highlight"><pre>'
             '<span class="n">label</span> <span class="o">=</span> '
             '<span class="sa">f</span><span class="s2">"</span><span class="si">{</span>first'
             '<span class="si">}</span><span class="s2">\u2013</span>  '
             '<span class="c1"># TensorFlow warns about tf.function '
             'retracing here; WARNING:tensorflow is silenced</span>\n'
             '<span class="n">options</span> <span class="o">=</span> <span class="nb">dict</span>'
             '<span class="p">(</span><span class="o">**</span><span class="n">kw</span>'
             '<span class="p">)</span>'
             '</pre></div></div></div>')


def page(body: str) -> str:
    """A SYNTHETIC page: a theme head (whose scripts and styles must be ignored) and ``body``."""
    return (f'{HEAD}<body><main><section class="tex2jax_ignore mathjax_ignore"><h1>Chapter</h1>'
            f"{body}</section></main></body></html>")


CLEAN = page(
    f"<p>{PARAGRAPH}</p>"
    "<p>Spearman's <span class=\"math notranslate nohighlight\">\\(\\rho\\)</span> and Kendall's "
    "<span class=\"math notranslate nohighlight\">\\(\\tau_b\\)</span> compare <strong>rankings</strong>; "
    "the years 1979\u20132020 are used \u2014 all of them.</p>"
    '<div class="math notranslate nohighlight">$$A = \\sum_i a_i$$</div>'
    "<p>Run <code class=\"docutils literal notranslate\"><span class=\"pre\">icegrad run 12 --source nsidc"
    "</span></code> to fetch.</p>"
    f"{CODE_CELL}"
    '<div class="cell_output docutils container"><div class="output stream highlight-myst-ansi notranslate">'
    '<div class="highlight"><pre><span></span>trained 2 members in 1 epoch (12 s)\n</pre></div></div></div>'
    f"<p>Short.</p><p>Short.</p><p>Data: EMULATED Arctic.</p><p>Data: EMULATED Arctic.</p>"
)


def test_a_clean_page_passes_every_check() -> None:
    assert checks.text_problems(CLEAN) == []


def test_repeated_paragraphs_are_found_once_each_with_their_count() -> None:
    rewrapped = PARAGRAPH.replace(" ", "\n", 3)  # the same paragraph, wrapped differently in the source
    html = page(f"<p>{PARAGRAPH}</p><div><p>{PARAGRAPH}</p></div><p>  {rewrapped}</p>")
    (found,) = checks.repeated_paragraphs(html)
    assert found.startswith("3x: 'The robustness")
    assert checks.repeated_paragraphs(page(f"<p>{PARAGRAPH}</p><p>{PARAGRAPH} It holds.</p>")) == []


@pytest.mark.parametrize(("body", "marker"), [
    ("<p>Every figure is <strong>EMULATED</strong> and **emulated** data.</p>", "'**'"),
    ("<table><tr><td>Spearman \\(\\rho\\)</td></tr></table>", "'\\\\('"),
    ("<p>Kendall's tau_b\\) closes a formula that never opened.</p>", "'\\\\)'"),
    ("<p>The energy $$E = mc^2$$ was left as text.</p>", "'$$'"),
])
def test_raw_markdown_outside_math_and_code_is_found(body: str, marker: str) -> None:
    found = checks.raw_markdown(page(body))
    assert any(f.startswith(marker) for f in found), found


def test_raw_markdown_inside_math_or_code_is_fine() -> None:
    body = ('<span class="math notranslate nohighlight">\\(x^{**}\\)</span>'
            '<div class="math">$$a$$</div><pre>print(2 ** 10, "$$")</pre><code>f(**kw)</code>')
    assert checks.raw_markdown(page(body)) == []


@pytest.mark.parametrize(("dash", "name"), [("\u2013", "en dash"), ("\u2014", "em dash"),
                                           ("\u2212", "minus sign")])
def test_typographic_dashes_in_code_and_pre_are_found(dash: str, name: str) -> None:
    inline = page('<p>Fetch with <code class="docutils literal"><span class="pre">'
                  f"icegrad run 12 {dash}source</span></code> first.</p>")
    (found,) = checks.dashes_in_code(inline)
    assert found.startswith(name) and f"{dash}source" in found
    printed = page(f'<div class="cell_output"><pre>icegrad fetch {dash}{dash}years 2013\n</pre></div>')
    assert len(checks.dashes_in_code(printed)) == 2


def test_dashes_in_prose_and_in_a_cells_own_code_are_fine() -> None:
    prose = "<p>1979\u20132020 \u2014 and \u22121.8 \u00b0C.</p>"
    assert checks.dashes_in_code(page(prose + CODE_CELL)) == []


@pytest.mark.parametrize(("line", "kind"), [
    ("Epoch 1/3", "Keras epoch line"),
    ("8/8 \u2501\u2501\u2501\u2501 1s 120ms/step - loss: 0.41", "Keras progress"),
    ("WARNING:tensorflow:5 out of the last 5 calls to &lt;function&gt; triggered tf.function retracing.",
     "TensorFlow warning"),
    ("5 out of the last 6 calls triggered tf.function retracing. Tracing is expensive",
     "tf.function retracing"),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
     "absl warning"),
    ("I0000 00:00:1796402121.920311   10126 port.cc:153] oneDNN custom operations are on.",
     "absl/TF log prefix"),
    ("W1204 16:40:03.123456  1234 polymorphic_function.py:157] 5 out of the last", "absl/TF log prefix"),
    ("2026-12-04 16:40:03.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations",
     "TF C++ log prefix"),
])
def test_log_lines_are_found_in_outputs(line: str, kind: str) -> None:
    html = page('<div class="cell_output"><div class="output stream">'
                f"<pre>trained\n{line}\ndone\n</pre></div></div>")
    found = checks.log_lines(html)
    assert any(f.startswith(kind + ":") for f in found), found
    assert all("trained" not in f and "done" not in f for f in found)  # the offending line only


def test_prose_about_training_and_a_cells_own_comments_are_not_log_lines() -> None:
    body = ("<p>Each member trains for one epoch per step of the schedule; the first epoch is slow.</p>"
            "<p>Epochs 1 to 3 took 12 s in all.</p>" + CODE_CELL)
    assert checks.log_lines(page(body)) == []


def test_text_problems_names_the_kind_of_each_problem() -> None:
    html = page(f"<p>{PARAGRAPH}</p><p>{PARAGRAPH}</p><p>**bold**</p><pre>Epoch 2/4 \u2013</pre>")
    kinds = [p.split(":")[0] for p in checks.text_problems(html)]
    assert kinds == ["repeated paragraph", "raw markdown", "raw markdown", "typographic dash in code",
                     "log line"]
