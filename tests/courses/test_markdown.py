from __future__ import annotations

from courses.markdown import render_markdown


def test_raw_html_is_shown_as_text_not_run() -> None:
    html = render_markdown('Hello <script>alert("x")</script> <img src=x onerror=alert(1)>')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_javascript_links_are_dropped() -> None:
    html = render_markdown("[click](javascript:alert(1)) and [safe](https://www.hse.gov.uk/)")
    assert 'href="javascript' not in html  # left as inert text, never a link
    assert '<a href="https://www.hse.gov.uk/" rel="noopener noreferrer">safe</a>' in html


def test_ordinary_markdown_renders() -> None:
    html = render_markdown("## Title\n\n- one\n- **two**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h2>Title</h2>" in html and "<strong>two</strong>" in html and "<td>1</td>" in html
