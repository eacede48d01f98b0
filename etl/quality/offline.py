"""Data docs that work offline and say "warnings" when only warnings failed.

Great Expectations' pages load jQuery, Bootstrap, bootstrap-table, Font Awesome and Vega from
CDNs: without internet the index lists nothing. `localise_site` rewrites every page to copies of
the same files under the site's own `static/vendor/`, fetched once per machine from the npm
registry (`npm pack`, no dependencies resolved) into LOCAL_DIR/vendor; if npm or the registry
is unavailable the pages keep their CDN links and a warning says so.

GX marks a validation "Failed" when any expectation failed, whatever its severity; our warning
rules never block, so a result whose failures are all warnings is shown with a warning icon and
the word "Warnings" in the index and on its page.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vendored:
    """A CDN file the pages load, and where the same file is in an npm package."""

    url: str
    package: str
    member: str
    """Path inside the package tarball (npm packs everything under `package/`)."""


def _v(url: str, package: str, member: str) -> Vendored:
    return Vendored(url, package, member)


VENDORED = (
    _v("https://code.jquery.com/jquery-3.7.1.min.js", "jquery@3.7.1", "dist/jquery.min.js"),
    _v(
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
        "popper.js@1.12.9",
        "dist/umd/popper.min.js",
    ),
    _v(
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
        "bootstrap@4.3.1",
        "dist/js/bootstrap.min.js",
    ),
    _v(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
        "bootstrap@4.3.1",
        "dist/css/bootstrap.min.css",
    ),
    _v(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
        "bootstrap-table@1.19.1",
        "dist/bootstrap-table.min.js",
    ),
    _v(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
        "bootstrap-table@1.19.1",
        "dist/bootstrap-table.min.css",
    ),
    _v(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.js",
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    _v(
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css",
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    _v(  # the validation pages ask for the unminified stylesheet
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.css",
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    _v(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
        "bootstrap-datepicker.min.js",
        "bootstrap-datepicker@1.9.0",
        "dist/js/bootstrap-datepicker.min.js",
    ),
    _v(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
        "bootstrap-datepicker.min.css",
        "bootstrap-datepicker@1.9.0",
        "dist/css/bootstrap-datepicker.min.css",
    ),
    _v(
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
        "@fortawesome/fontawesome-free@6.6.0",
        "css/all.min.css",
    ),
    _v("https://cdn.jsdelivr.net/npm/vega@5", "vega@5.33.1", "build/vega.min.js"),
    _v("https://cdn.jsdelivr.net/npm/vega-lite@5", "vega-lite@5.23.0", "build/vega-lite.min.js"),
    _v("https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed@6.29.0", "build/vega-embed.min.js"),
    _v(
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
        "bootstrap-prefers-dark.css",
        "@forevolve/bootstrap-dark@1.1.0",
        "dist/css/bootstrap-prefers-dark.css",
    ),
)
EXTRA_MEMBERS = {"@fortawesome/fontawesome-free@6.6.0": "webfonts/"}
"""Whole folders a vendored file refers to (Font Awesome's CSS loads ../webfonts/*)."""
LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.[^\"')]*?/(?:logo-long|full_logo_dark)\.png"
    r"[^\"')]*"
)
"""GX's logo, light or dark style, from its web bucket: the site ships logo-long.png itself."""
LOADING = re.compile(r"""(?:\b(src|href)\s*=\s*["']|url\(\s*["']?)(?:https?:)?$""", re.I)
URL_END = re.compile(r"""["')\s>]""")
"""What a page or stylesheet would load from elsewhere: scripts, images, stylesheets, fonts
(`src=`, `<link href=`, CSS `url()`); plain hyperlinks load nothing and are left alone."""
STATUS_FAILED = re.compile(r'<i class="fas fa-times text-danger" aria-hidden="true"></i>\s*Failed')
STATUS_WARNINGS = (
    '<i class="fas fa-exclamation-triangle text-warning" aria-hidden="true"></i> '
    "Warnings (no blocking expectation failed)"
)
FAILED_ICON = '<i class="fas fa-times text-danger ge-failed-icon" ></i>'
WARNING_ICON = '<i class="fas fa-exclamation-triangle text-warning ge-failed-icon" ></i>'


def fetch_vendor(cache: Path) -> bool:
    """Make sure every vendored file is in `cache` (npm pack, once); False if impossible."""
    wanted = {v.package for v in VENDORED}
    missing = [p for p in sorted(wanted) if not (cache / _folder(p) / ".complete").exists()]
    if not missing:
        return True
    npm = shutil.which("npm")
    if npm is None:
        log.warning("data docs keep their CDN links: npm is not installed")
        return False
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run(
            [npm, "pack", "--silent", "--pack-destination", scratch, *missing],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if packed.returncode != 0:
            reason = (packed.stderr or packed.stdout).strip().splitlines()[-1:]
            log.warning("data docs keep their CDN links: npm pack failed: %s", " ".join(reason))
            return False
        tarballs = sorted(Path(scratch).glob("*.tgz"))
        for package, tarball in zip(missing, tarballs_in_order(missing, tarballs), strict=True):
            _extract(package, tarball, cache / _folder(package))
    return True


def tarballs_in_order(packages: list[str], tarballs: list[Path]) -> list[Path]:
    """npm pack names tarballs `scope-name-version.tgz`: match each package to its file."""
    out = []
    for package in packages:
        name = package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
        out.append(next(t for t in tarballs if t.name.startswith(f"{name}-")))
    return out


def _folder(package: str) -> str:
    return package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")


def _extract(package: str, tarball: Path, target: Path) -> None:
    members = {v.member for v in VENDORED if v.package == package}
    prefix = EXTRA_MEMBERS.get(package)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            inner = member.name.removeprefix("package/")
            if member.isfile() and (inner in members or (prefix and inner.startswith(prefix))):
                destination = target / inner
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                if source is not None:
                    destination.write_bytes(source.read())
    (target / ".complete").touch()


def localise_site(site: Path, cache: Path, warning_only: set[str] | None = None) -> int:
    """Point every page of the data docs at local copies (when they can be had) and show
    warning-only results as warnings; returns how many pages changed."""
    vendored = fetch_vendor(cache)
    copied = site / "static" / "vendor" / ".complete"
    if vendored and not copied.exists():
        shutil.copytree(cache, copied.parent, dirs_exist_ok=True)
        copied.touch()
    warning_only = warning_only if warning_only is not None else warning_only_pages(site)
    changed = 0
    for page in [*site.rglob("*.html"), *site.rglob("*.css")]:
        text = page.read_text(encoding="utf-8")
        new = _rewrite(text, page, site, vendored, warning_only)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    left = external_references(site)
    if left:
        log.warning(
            "data docs still load %d file(s) from the internet (they show without them, "
            "unstyled): %s",
            len(left),
            ", ".join(left[:5]),
        )
    return changed


def external_references(site: Path) -> list[str]:
    """Every distinct URL a page or stylesheet of the site would load from outside it."""
    found: set[str] = set()
    for page in [*site.rglob("*.html"), *site.rglob("*.css")]:
        text = page.read_text(encoding="utf-8", errors="replace")
        at = text.find("//")
        while at != -1:  # each "//" is checked against what precedes it: fast on big pages
            context = LOADING.search(text, max(0, at - 40), at)
            if context and not (  # only a <link> loads its href
                (context.group(1) or "").lower() == "href"
                and not text.startswith("<link", text.rfind("<", 0, context.start()))
            ):
                end = URL_END.search(text, at + 2)
                found.add(text[at + 2 : end.start() if end else len(text)])
            at = text.find("//", at + 2)
    return sorted(found)


def _rewrite(text: str, page: Path, site: Path, vendored: bool, warning_only: set[str]) -> str:
    up = os.path.relpath(site, page.parent).replace(os.sep, "/")
    if vendored:
        for v in VENDORED:
            local = f"{up}/static/vendor/{_folder(v.package)}/{v.member}"
            text = text.replace(f'"{v.url}"', f'"{local}"')
    logo = os.path.relpath(site / "static" / "images" / "logo-long.png", page.parent)
    text = LOGO.sub(logo.replace(os.sep, "/"), text)
    if page.name == "index.html" and warning_only:
        text = _index_warnings(text, warning_only)
    elif page.relative_to(site).as_posix() in warning_only:
        text = STATUS_FAILED.sub(STATUS_WARNINGS, text).replace("text-danger", "text-warning")
    return text


ROW = re.compile(r"\{'validation_success': .*?'asset_name': '[^']*'\}", re.S)


def _index_warnings(text: str, warning_only: set[str]) -> str:
    def fix(match: re.Match[str]) -> str:
        row = match.group(0)
        link = re.search(r"'_table_row_link_path': '([^']*)'", row)
        # the index keeps run ids URL-encoded (`manual__2026-12-06T06%3A39…`), the files do not
        if link is None or unquote(link.group(1)) not in warning_only:
            return row
        row = row.replace(FAILED_ICON, WARNING_ICON)
        failed, warned = ("'_validation_success_text': '" + w + "'" for w in ("Failed", "Warnings"))
        return row.replace(failed, warned)

    return ROW.sub(fix, text)


def warning_only_pages(site: Path) -> set[str]:
    """Validation pages (relative to the site) whose failed expectations are all warnings."""
    results = site.parents[1] / "validations"  # uncommitted/data_docs/local_site -> uncommitted
    pages = set()
    for path in results.rglob("*.json"):
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        failed = [r for r in result.get("results", []) if not r.get("success")]
        severities = {
            (r.get("expectation_config", {}).get("meta") or {}).get("severity") for r in failed
        }
        if failed and severities == {"warning"} and not _raised(failed):
            relative = path.relative_to(results).with_suffix(".html")
            pages.add(f"validations/{relative.as_posix()}")
    return pages


def _raised(results: list[dict[str, Any]]) -> bool:
    """An expectation that raised counts as blocking (see etl.quality.checks._severity)."""
    for result in results:
        info = result.get("exception_info") or {}
        entries = [info, *(v for v in info.values() if isinstance(v, dict))]
        if any(entry.get("raised_exception") for entry in entries):
            return True
    return False
