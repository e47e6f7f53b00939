"""The docs site builds with warnings as errors, and covers the public API and examples.

``mkdocs build --strict`` fails on any warning: a broken link or anchor, a missing
included file, a docstring mkdocstrings cannot parse. Needs the docs packages
(in the ``test`` and ``docs`` extras); skipped without them.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import skdistill

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _pages():
    return {p: p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")}


def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    site = tmp_path / "site"
    api = (site / "api" / "estimator" / "index.html").read_text(encoding="utf-8")
    assert 'id="skdistill.DataFreeDistillRegressor"' in api
    assert ":class:" not in api  # Sphinx roles were turned into links or code
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "<table>" in benchmarks


def test_every_public_name_has_an_api_entry():
    documented = set()
    for text in _pages().values():
        documented |= set(re.findall(r"^::: skdistill\.(\w+)", text, re.MULTILINE))
    public = set(skdistill.__all__) - {"__version__"}
    assert public - documented == set(), "add these to a page under docs/api/"


def test_every_example_is_on_a_docs_page():
    text = "\n".join(_pages().values())
    examples = sorted((ROOT / "examples").glob("*.py")) + sorted(
        (ROOT / "examples").glob("*.ipynb")
    )
    missing = [
        p.name
        for p in examples
        if not p.name.startswith("_") and f"examples/{p.name}" not in text
    ]
    assert missing == [], "include these in a page under docs/examples/"


def test_benchmarks_page_picks_up_new_results_and_figures(tmp_path, monkeypatch):
    """A results file and PNG the docs never named (paper_table.md) still appear."""
    pytest.importorskip("mkdocs")
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    (tmp_path / "paper_table.md").write_text(
        "# Paper table\n\n| a |\n|---|\n| 1 |\n\n![fig](paper_table.png)\n"
        "See [the other](other.md).\n"
    )
    (tmp_path / "paper_table.png").write_bytes(b"png")
    (tmp_path / "extra.png").write_bytes(b"png")
    (tmp_path / "zz_new.md").write_text("## Part\n\ntext\n")
    monkeypatch.setattr(hooks, "RESULTS", tmp_path)
    page = hooks._benchmark_results("../")
    assert page.index("## Paper results table") < page.index("## Zz new")
    assert "![fig](../benchmarks/results/paper_table.png)" in page
    assert "![extra.png](../benchmarks/results/extra.png)" in page  # unreferenced
    assert "the other" in page and "(other.md)" not in page  # no dead link
    assert "### Part" in page
