"""Applies expected_failures.txt: each listed test runs as xfail(strict=True)."""

from pathlib import Path

import pytest

LISTED = {
    line.strip()
    for line in (Path(__file__).parent / "expected_failures.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.name in LISTED:
            item.add_marker(pytest.mark.xfail(strict=True, reason="listed in expected_failures.txt"))
