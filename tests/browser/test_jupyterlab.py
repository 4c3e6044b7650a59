"""Lab 01 in a real JupyterLab, driven through its menus in Chromium, as a learner would run it.

The notebook runs with its default ``backend="auto"`` and no kube config, so it must pick the simulator
by itself and say so. Screenshots land in pytest's tmp dir and in build/test-output/browser/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import nbformat

from .conftest import OUTPUT, JupyterLab

NOTEBOOK = "01-external-access.ipynb"
RUN_TIMEOUT_MS = 180_000  # the simulated lab takes seconds; a real regression should not hang CI
UI_TIMEOUT_MS = 60_000

# The status bar says "<kernel name> | Idle" once a kernel is connected and not busy. (The toolbar's
# execution indicator already reads "idle" while the kernel is still starting.)
KERNEL_IDLE = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some(e => /^(?!No Kernel).+ \\| Idle$/.test(e.textContent.trim()))"""
# True once the kernel is idle and every code cell shows an execution count (not "[ ]" or "[*]").
ALL_CELLS_RAN = f"""() => ({KERNEL_IDLE})() && [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()))"""


def open_notebook(page: Any, jl: JupyterLab, name: str) -> None:
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(jl.lab_url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell")
    # The kernel must be up before "Run All": run earlier, the command does nothing.
    page.wait_for_function(KERNEL_IDLE)


def run_all_cells(page: Any) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # The first queued cell flips its prompt to [*] at once; wait for that, then for the end.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
        ".some(p => p.textContent.includes('*') || /\\d/.test(p.textContent))"
    )
    page.wait_for_function(ALL_CELLS_RAN, timeout=RUN_TIMEOUT_MS)


def save_screenshot(page: Any, tmp_path: Path, name: str, **kwargs: Any) -> Path:
    path = tmp_path / name
    (kwargs.pop("element", None) or page).screenshot(path=str(path), **kwargs)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, OUTPUT / name)  # a stable place to look at after the run
    return path


def outputs_text(page: Any) -> str:
    return "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())


def test_lab_01_runs_in_jupyterlab_and_shows_its_checks(jupyterlab: JupyterLab, page: Any, tmp_path: Path) -> None:
    open_notebook(page, jupyterlab, NOTEBOOK)
    run_all_cells(page)
    text = outputs_text(page)

    # The banner: simulated results are labelled, and the lab says what it will change.
    banner = page.locator(".jp-OutputArea-output", has_text="SIMULATED MESH").first
    assert banner.is_visible()
    assert "not from a real cluster" in banner.inner_text()
    assert "What this lab changes in the simulated cluster" in banner.inner_text()
    assert "meshConfig.outboundTrafficPolicy.mode to REGISTRY_ONLY" in banner.inner_text()
    assert "no usable kube context" in banner.inner_text()  # "auto" chose the simulator by itself

    # The report: one HTML table, every row passing, and a caption that counts them all.
    table = page.locator("table.labkit-checks")
    assert table.count() == 1
    rows = table.locator("tr.labkit-check")
    results = [rows.nth(i).get_attribute("data-result") for i in range(rows.count())]
    assert len(results) >= 10 and set(results) == {"PASS"}, results
    assert table.locator("tfoot").inner_text().strip() == f"{len(results)}/{len(results)} passed"
    assert "HTTPS to www.baidu.com is blocked" in table.inner_text()

    # A check that needed more than one try says so, even though the simulator's wait was virtual.
    assert re.search(r"the try before it held got: status \d+", text)
    assert re.search(r"PASS HTTPS to www\.baidu\.com is blocked\s+\[simulated\]\s+\(2 tries", text)

    # r.explain() is a tree of hops, ending in the decision.
    assert "sidecar of default/sleep" in text and "502 from the sidecar itself" in text

    # Manifests are collapsed; opened, they show highlighted YAML in JupyterLab's editor colours.
    manifest = page.locator("details.labkit-manifest", has_text="serviceentry-http.yaml").first
    assert not manifest.locator("pre").is_visible()
    manifest.locator("summary").click()
    yaml_block = manifest.locator("pre")
    assert yaml_block.is_visible() and "kind: ServiceEntry" in yaml_block.inner_text()
    assert yaml_block.locator('span[style*="--jp-mirror-editor-property-color"]').count() > 0
    save_screenshot(page, tmp_path, "lab01-manifest.png", element=manifest)

    # Nothing failed: no error output and no traceback anywhere.
    assert page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    assert "Traceback" not in text

    # Hide the file browser (a click on its active tab collapses it) so the screenshot is about the notebook.
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.locator("#jp-left-stack").wait_for(state="hidden")
    banner.scroll_into_view_if_needed()
    save_screenshot(page, tmp_path, "lab01-banner.png")
    table.scroll_into_view_if_needed()
    shot = save_screenshot(page, tmp_path, "lab01-checks.png")
    save_screenshot(page, tmp_path, "lab01-check-table.png", element=table)
    assert shot.stat().st_size > 10_000  # a real picture, not an empty page


def test_a_failing_check_shows_expected_got_and_hint_without_a_traceback(
    jupyterlab: JupyterLab, page: Any, tmp_path: Path
) -> None:
    nb = nbformat.read(jupyterlab.root / NOTEBOOK, as_version=4)
    target = 'lab.verify_curl(f"https://{https_host}", "-sSI", status=200, title=f"HTTPS to {https_host} works'
    cell = next(c for c in nb.cells if target in c.source)
    cell.source = cell.source.replace(target, target.replace("status=200", "status=418"))
    nbformat.write(nb, jupyterlab.root / "01-broken.ipynb")

    open_notebook(page, jupyterlab, "01-broken.ipynb")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # Run All stops at the failing cell; the cells after it stay unrun.
    failed = page.locator(".jp-CodeCell", has_text="status=418")
    failed.locator(".jp-OutputArea-output", has_text="✘ FAIL").wait_for(timeout=RUN_TIMEOUT_MS)
    page.wait_for_function(KERNEL_IDLE, timeout=RUN_TIMEOUT_MS)

    text = failed.locator(".jp-OutputArea").inner_text()
    assert "✘ FAIL HTTPS to www.baidu.com works once registered" in text
    assert "expected: status 418" in text and "got:      status 200; exit 0" in text
    assert "hint:" in text
    # The error output names the failure in one line; no Python stack frames.
    error = failed.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert error.count() == 1
    assert error.inner_text().startswith("ExpectationFailed: check failed: HTTPS to www.baidu.com")
    assert "Traceback" not in text and ".py" not in error.inner_text()
    # The lab cleaned up after the failure.
    assert "a cell failed: cleaning up" in text and "restored the mesh config" in text
    failed.scroll_into_view_if_needed()
    save_screenshot(page, tmp_path, "lab01-failed-check.png", element=failed)


# A bare Python repr in an output means an object that should have rendered itself did not.
BARE_REPR = re.compile(r"object at 0x[0-9a-f]+|^\w+\(\w+=|^\[\{'apiVersion'|^<labkit\.", re.MULTILINE)


def test_at_1280_by_800_with_the_file_browser_open_the_banner_fits_and_no_cell_shows_a_bare_repr(
    jupyterlab: JupyterLab, page: Any, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    open_notebook(page, jupyterlab, NOTEBOOK)
    assert page.locator("#jp-left-stack").is_visible()  # the file browser is open
    run_all_cells(page)
    banner = page.locator(".jp-OutputArea-output", has_text="SIMULATED MESH").first
    banner.scroll_into_view_if_needed()
    area = banner.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea')][1]")
    inner = banner.bounding_box()
    outer = area.bounding_box()
    assert inner is not None and outer is not None
    # Fully inside the output area: nothing cut at the right edge, and nothing to scroll sideways.
    assert inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1, (inner, outer)
    overflow = banner.evaluate("e => [...e.querySelectorAll('*')].some(c => c.scrollWidth > c.clientWidth + 1)")
    assert not overflow
    save_screenshot(page, tmp_path, "lab01-banner-1280.png")
    bare = [t for t in page.locator(".jp-OutputArea-output").all_inner_texts() if BARE_REPR.search(t)]
    assert bare == []
