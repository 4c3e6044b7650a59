"""JUnit XML for a lab run, so CI systems show each check as a test.

One ``<testsuite>`` per notebook, one ``<testcase>`` per check. A notebook that stopped for a reason
other than a failing check (or made no checks at all) also gets a testcase named ``notebook``. On a
real cluster, a testcase named ``cluster left as found`` says whether the lab undid its changes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from .runner import LabResult, RunSummary, strip_ansi

#: The testcase that fails when a lab leaves something in the cluster.
CLUSTER_CASE = "cluster left as found"

# Characters XML 1.0 cannot carry at all (kernel tracebacks contain ANSI escapes, for one).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _ILLEGAL_XML.sub("", strip_ansi(text))


def to_element(summary: RunSummary) -> ET.Element:
    """The report as an ElementTree element (``<testsuites>``)."""
    root = ET.Element("testsuites", name="labkit")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    for result in summary.results:
        suite = _suite(result, stamp)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        total_time += result.seconds
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    return root


def _suite(result: LabResult, stamp: str) -> ET.Element:
    suite = ET.Element("testsuite", name=result.name, timestamp=stamp, time=f"{result.seconds:.3f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="backend", value=result.backend_used)
    ET.SubElement(props, "property", name="simulated", value=str(result.simulated).lower())
    ET.SubElement(props, "property", name="notebook", value=str(result.output))
    failures = errors = skipped = 0
    for check in result.checks:
        case = ET.SubElement(
            suite, "testcase", name=_clean(check.title), classname=result.name, time=f"{check.seconds:.3f}"
        )
        if check.simulated:
            ET.SubElement(case, "properties").append(ET.Element("property", name="simulated", value="true"))
        if check.skipped:
            skipped += 1
            ET.SubElement(case, "skipped", message=_clean(f"not applicable: {check.actual}"))
        elif not check.passed:
            failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                type="CheckFailed",
                message=_clean(f"expected {check.expected}, got {check.actual}"),
            )
            lines = [
                f"command:  {check.command}",
                f"expected: {check.expected}",
                f"actual:   {check.actual}",
                f"attempts: {check.attempts}",
            ]
            if check.hint:
                lines.append(f"hint:     {check.hint}")
            failure.text = _clean("\n".join(lines))
    # The notebook itself is a test when nothing else would show how it went.
    if result.error_outside_checks or not result.checks:
        case = ET.SubElement(suite, "testcase", name="notebook", classname=result.name, time=f"{result.seconds:.3f}")
        if result.error is not None:
            errors += 1
            error = ET.SubElement(case, "error", type=_clean(result.error.ename), message=result_message(result))
            where = f"cell {result.error.cell_index + 1}\n" if result.error.cell_index is not None else ""
            error.text = _clean(where + (result.error.traceback or result.error.short(limit=10_000)))
    if result.cluster is not None:
        case = ET.SubElement(suite, "testcase", name=CLUSTER_CASE, classname=result.name, time="0.000")
        if not result.cluster.clean:
            failures += 1
            failure = ET.SubElement(case, "failure", type="LeftOver", message=_clean(result.cluster.problems[0]))
            undone = ["", "labkit undid it:", *result.cluster.actions] if result.cluster.actions else []
            lines = [*result.cluster.problems, *undone]
            failure.text = _clean("\n".join(lines))
    if result.record_problem:
        ET.SubElement(suite, "system-err").text = _clean(result.record_problem)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def result_message(result: LabResult) -> str:
    return _clean(result.error.short()) if result.error else ""


def write_junit(summary: RunSummary, path: Path) -> Path:
    """Write the report to ``path`` (parents created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(to_element(summary))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
