"""The Content-Security-Policy's allowances for what the vendored chart libraries create inline.

Measured in Chromium (tests/insights/test_browser.py collects every violation on every page):

- Scripts: plotly.js and Dash need no ``'unsafe-eval'`` and no inline script, except the one line
  django-plotly-dash writes to start Dash's renderer, allowed by its hash.
- Styles, on the Plotly pages: plotly.js creates an empty ``<style>`` element and fills it through
  the CSSOM (``insertRule``, which CSP does not govern), creates maplibre's stylesheet as a fixed
  ``<style>`` text at load (maps are unused, but the element is made anyway), sets an empty
  ``style`` attribute on colour-bar rectangles and a fixed ``image-rendering`` one on heatmap images.
  Each is allowed by the hash of its fixed text (attributes need ``'unsafe-hashes'``), nothing else.
- Styles, on the Explorer only: Dash 4's components inject about fifteen ``<style>`` blocks of their
  own at run time (CSS-in-JS); that page's policy allows inline styles (scripts stay strict there).

tests/test_security_headers.py recomputes each hash from the library file it stands for.
"""

from __future__ import annotations

import base64
import hashlib


def source_hash(text: str) -> str:
    """A CSP hash source for an inline script or style whose text is exactly ``text``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# django-plotly-dash's {% plotly_footer %}: <script id="_dash-renderer">var renderer = new DashRenderer();</script>
DASH_RENDERER_SCRIPT = "var renderer = new DashRenderer();"
# plotly.js's heatmap images (ML.STYLE in the bundle: its CSS_DECLARATIONS joined).
PLOTLY_PIXELATED_STYLE = "".join(f"image-rendering: {v}; " for v in (
    "optimizeSpeed", "-moz-crisp-edges", "-o-crisp-edges", "-webkit-optimize-contrast", "optimize-contrast",
    "crisp-edges", "pixelated"))
# The maplibre stylesheet plotly.js (static/vendor/plotly.min.js, v4.1.1) writes into a <style> at load:
# 83 KB of fixed CSS, so its hash rather than its text.
PLOTLY_MAPLIBRE_CSS_HASH = "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='"

SCRIPT_HASHES = [source_hash(DASH_RENDERER_SCRIPT)]
STYLE_HASHES = [source_hash(""), source_hash(PLOTLY_PIXELATED_STYLE), PLOTLY_MAPLIBRE_CSS_HASH]
