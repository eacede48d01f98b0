"""Data docs work offline, and a result whose failures are all warnings reads as warnings."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from etl.quality.offline import VENDORED, _folder, external_references, localise_site

JQUERY = next(v for v in VENDORED if "jquery" in v.url)
FILTER_CSS = next(v for v in VENDORED if v.url.endswith("filter-control.css"))
FONTS = next(v for v in VENDORED if "font-awesome" in v.url)
# a run id as Airflow names it: GX keeps it URL-encoded in the index, not in the file's path
RUN = "manual__2026-12-06T06:39:40+00:00"
WARNED = f"validations/shop/products/{RUN}/20261125T000000Z/warehouse-shop.products.html"
BLOCKED = "validations/shop/user_sessions/run/20261125T000000Z/warehouse-shop.user_sessions.html"


def row(link: str, failed: bool = True) -> str:
    icon = "fa-times text-danger ge-failed-icon" if failed else "fa-check-circle text-success"
    text = "Failed" if failed else "Success"
    return (
        f"{{'validation_success': '<i class=\"fas {icon}\" ></i>', "
        f"'_table_row_link_path': '{link}', '_validation_success_text': '{text}', "
        f"'asset_name': 'x'}}"
    )


def result(severities: list[str]) -> dict[str, object]:
    return {
        "success": False,
        "results": [
            {"success": False, "exception_info": {"raised_exception": False},
             "expectation_config": {"meta": {"severity": s}}}
            for s in severities
        ] + [{"success": True, "expectation_config": {"meta": {"severity": "blocking"}}}],
    }  # fmt: skip


def make_site(tmp: Path) -> tuple[Path, Path]:
    uncommitted = tmp / "uncommitted"
    site = uncommitted / "data_docs" / "local_site"
    cache = tmp / "vendor"
    for v in VENDORED:  # a filled cache: no npm needed
        folder = cache / _folder(v.package)
        (folder / v.member).parent.mkdir(parents=True, exist_ok=True)
        (folder / v.member).write_text(f"/* {v.package} */")
        (folder / ".complete").touch()
    for link, severities in ((WARNED, ["warning", "warning"]), (BLOCKED, ["warning", "blocking"])):
        json_path = uncommitted / "validations" / Path(link).relative_to("validations")
        json_path = json_path.with_suffix(".json")
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result(severities)))
        page = site / link
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            f'<script src="{JQUERY.url}"></script><span class="h6" >Status:</span> '
            '<i class="fas fa-times text-danger" aria-hidden="true"></i> Failed'
        )
    (site / "index.html").write_text(
        f'<link href="{FONTS.url}" rel="stylesheet"><script src="{JQUERY.url}"></script>'
        f"<script>data: [{row(quote(WARNED))}, {row(BLOCKED)}, "
        f"{row('validations/ok.html', False)}]</script>"
    )
    styles = site / "static" / "styles"  # GX's dark style and the unminified filter stylesheet
    styles.mkdir(parents=True)
    (styles / "data_docs_default_styles.css").write_text(
        ".navbar-brand { background: url('https://great-expectations-web-assets.s3.us-east-2"
        ".amazonaws.com/full_logo_dark.png') 0 0 no-repeat; }"
    )
    (site / WARNED).write_text(
        (site / WARNED).read_text() + f'<link href="{FILTER_CSS.url}" rel="stylesheet">'
    )
    return site, cache


def test_every_page_points_at_local_copies_that_exist(tmp_path: Path) -> None:
    site, cache = make_site(tmp_path)
    assert localise_site(site, cache) == 4  # three pages and the stylesheet
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert JQUERY.url not in text and FONTS.url not in text
        local = text.split('src="')[1].split('"')[0]
        assert (page.parent / local).resolve().read_text() == f"/* {JQUERY.package} */"
    index = (site / "index.html").read_text()
    css = index.split('href="')[1].split('"')[0]
    assert (site / css).resolve().is_file()
    assert localise_site(site, cache) == 0  # idempotent
    assert external_references(site) == []  # nothing loaded from outside, images included
    css = (site / "static" / "styles" / "data_docs_default_styles.css").read_text()
    assert "url('../images/logo-long.png')" in css


def test_a_warning_only_result_reads_as_warnings_and_a_blocking_one_as_failed(
    tmp_path: Path,
) -> None:
    site, cache = make_site(tmp_path)
    localise_site(site, cache)
    index = (site / "index.html").read_text()
    rows = index.split("{'validation_success'")[1:]
    warned, blocked, ok = rows
    assert "'_validation_success_text': 'Warnings'" in warned and "text-warning" in warned
    assert "'_validation_success_text': 'Failed'" in blocked and "text-danger" in blocked
    assert "'Success'" in ok
    assert "Warnings (no blocking expectation failed)" in (site / WARNED).read_text()
    assert "</i> Failed" in (site / BLOCKED).read_text()


def test_without_the_files_the_pages_keep_working_links(tmp_path: Path, monkeypatch) -> None:
    site, _ = make_site(tmp_path)
    monkeypatch.setenv("PATH", "")  # no npm: nothing fetched, the CDN links stay
    localise_site(site, tmp_path / "empty-cache")
    assert JQUERY.url in (site / "index.html").read_text()
    assert not (site / "static" / "vendor").exists()
    assert "code.jquery.com/jquery-3.7.1.min.js" in external_references(site)
