"""The built docs read offline: diagrams render from the bundled mermaid, never from a CDN.

Builds the site with ``mkdocs build --strict`` (as CI does) into a temporary folder and reads
the HTML. Material for MkDocs fetches mermaid from a CDN unless a global ``mermaid`` already
exists; ``docs/javascripts/mermaid.min.js`` (listed in ``extra_javascript``) defines it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs extra (mkdocs, mkdocs-material) is not installed")
pytest.importorskip("material", reason="the docs extra (mkdocs-material) is not installed")

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "docs" / "javascripts" / "mermaid.min.js"
NOTICE = ROOT / "docs" / "javascripts" / "mermaid.NOTICE"
# Hosts that serve mermaid (or any npm file) to browsers.
CDN = re.compile(r"unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|esm\.sh|mermaid@\d")
EXTERNAL_ASSET = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*\"")


@pytest.fixture(scope="module")
def site(built_site: Path) -> Path:
    return built_site


def _pages(site: Path) -> dict[Path, str]:
    return {page: page.read_text(encoding="utf-8") for page in site.rglob("*.html")}


def test_diagram_pages_load_the_bundled_mermaid(site: Path) -> None:
    with_diagrams = {p: html for p, html in _pages(site).items() if 'class="mermaid"' in html}
    assert site / "architectures" / "index.html" in with_diagrams
    for page, html in with_diagrams.items():
        scripts = re.findall(r'<script src="([^"]+)"', html)
        bundled = [s for s in scripts if s.endswith("javascripts/mermaid.min.js")]
        assert bundled, f"{page.relative_to(site)} has a diagram but does not load the bundled mermaid"
        assert (page.parent / bundled[0]).resolve() == (site / "javascripts" / "mermaid.min.js").resolve()


def test_no_page_reaches_a_cdn_or_another_host_for_assets(site: Path) -> None:
    for page, html in _pages(site).items():
        assert not CDN.search(html), f"{page.relative_to(site)} names a CDN: {CDN.search(html)}"
        external = EXTERNAL_ASSET.findall(html)
        assert not external, f"{page.relative_to(site)} loads assets from another host: {external}"


def test_the_theme_uses_a_mermaid_that_is_already_defined(site: Path) -> None:
    # The theme's only CDN fallback for mermaid is guarded by "mermaid is not defined yet".
    # If a theme update fetched it unconditionally, the bundled copy would not be enough.
    (bundle,) = (site / "assets" / "javascripts").glob("bundle.*.min.js")
    text = bundle.read_text(encoding="utf-8")
    fallbacks = [m.start() for m in re.finditer(r"https://unpkg\.com/mermaid@", text)]
    assert fallbacks, "the theme no longer names a mermaid CDN: re-check how it loads mermaid"
    for at in fallbacks:
        assert 'typeof mermaid=="undefined"' in text[max(0, at - 200) : at], text[at - 200 : at + 60]


def test_the_bundled_mermaid_is_the_recorded_release(site: Path) -> None:
    recorded = re.search(r"sha256 ([0-9a-f]{64})", NOTICE.read_text(encoding="utf-8"))
    assert recorded is not None
    built = (site / "javascripts" / "mermaid.min.js").read_bytes()
    assert built == BUNDLED.read_bytes()
    assert hashlib.sha256(built).hexdigest() == recorded[1]
    # It must define the global the theme checks for (the IIFE build, not the ES module one).
    assert built.rstrip().endswith(
        b'globalThis["mermaid"] = globalThis.__esbuild_esm_mermaid_nm["mermaid"].default;'
    )
    assert (ROOT / "docs" / "javascripts" / "mermaid.LICENSE").read_text().startswith("The MIT License")


def test_code_blocks_wrap_instead_of_running_off_the_page(site: Path) -> None:
    css = (site / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.md-typeset pre > code\s*\{([^}]*)\}", css)
    assert rule is not None and "white-space: pre-wrap" in rule[1]
    for page, html in _pages(site).items():
        if "<pre" in html:
            assert re.search(r'<link rel="stylesheet" href="[^"]*stylesheets/extra\.css"', html), page
