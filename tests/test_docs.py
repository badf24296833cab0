from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.support import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# -- the reference's table of contents ---------------------------------------------------


def toc_labels(page: Path) -> list[str]:
    """The labels of a built page's table of contents (the secondary navigation)."""
    html = page.read_text()
    start = html.index('aria-label="Table of contents"')
    end = html.index("</nav>\n      \n    </li>", start)
    spans = re.findall(r'<span class="md-ellipsis">\s*(.*?)\s*</span>', html[start:end], re.S)
    return [re.sub(r"<[^>]+>", "", label).strip() for label in spans]


def reference_modules() -> dict[str, list[str]]:
    """For each reference page, the short names of the modules it documents with `:::`."""
    found: dict[str, list[str]] = {}
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        for target in re.findall(r"^::: (\S+)", page.read_text(), re.M):
            try:
                module = importlib.import_module(target)
            except ImportError:
                continue  # a class or a function
            if isinstance(module, types.ModuleType):
                found.setdefault(page.stem, []).append(target.rpartition(".")[2])
    return found


def test_mkdocs_build_strict_passes_and_the_reference_toc_has_titles(tmp_path: Path) -> None:
    """A broken link, page or API reference in the docs fails the suite; the reference's
    table of contents names sections, not bare modules (`flow`, `sessions`)."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "dispatch" / "index.html").exists()
    page = (tmp_path / "site" / "reference" / "dispatch" / "index.html").read_text()
    assert "has_listeners" in page  # the API reference was generated from docstrings
    modules = reference_modules()
    assert "flow" in modules["auth"]
    assert "signals" in modules["signals"]
    for stem, names in modules.items():
        labels = toc_labels(tmp_path / "site" / "reference" / stem / "index.html")
        assert "Table of contents" not in labels
        assert not set(names) & set(labels), (stem, labels)
    middleware = toc_labels(tmp_path / "site" / "reference" / "middleware" / "index.html")
    assert "SignalsMiddleware (WSGI)" in middleware
    assert "SignalsMiddleware (ASGI)" in middleware


# -- the first steps a reader takes -------------------------------------------------------


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


REQUEST = """
from wsgiref.util import setup_testing_defaults
environ = {"PATH_INFO": "/hello"}
setup_testing_defaults(environ)
response = app(environ, lambda status, headers, exc_info=None: None)
assert b"".join(response) == b"hello"
response.close()  # the end of the request, as a server does
"""


def test_the_readme_first_receiver_shows_a_line_for_each_request() -> None:
    """The first example configures logging, so a reader copying it sees its output."""
    receiver, bare_wsgi = python_blocks((ROOT / "README.md").read_text())[:2]
    assert "def app(environ, start_response)" in bare_wsgi
    result = run_python(receiver + bare_wsgi + REQUEST)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"INFO:myapp:/hello -> 200 in [\d.]+ ms\n", result.stderr)


def test_the_home_page_quick_start_runs_and_shows_its_line() -> None:
    index = (ROOT / "docs" / "index.md").read_text()
    for section in ("## Install", "## Quick start", "## Where to go next"):
        assert section in index
    (quick_start,) = python_blocks(index)
    assert len(quick_start.strip().splitlines()) <= 16
    result = run_python(quick_start + REQUEST)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"INFO:root:200 in [\d.]+ ms\n", result.stderr)


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_install_commands_install_from_a_checkout() -> None:
    """reqsignals is not on PyPI: `pip install 'reqsignals[auth]'` would fail."""
    sources = [*DOCUMENTS, *sorted((ROOT / "reqsignals").rglob("*.py"))]
    for path in sources:
        text = path.read_text()
        assert not re.search(r"pip install -?-?\w*\s*'?reqsignals\b", text), path
    readme = (ROOT / "README.md").read_text()
    assert "pip install '/path/to/reqsignals[auth]'" in readme
    assert "pip install -e '.[all]'" in readme


def test_the_docs_say_how_to_build_them() -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    assert any(dep.startswith("mkdocs-material") for dep in groups["docs"])
    for path in (ROOT / "README.md", ROOT / "docs" / "index.md"):
        text = path.read_text()
        assert "pip install --group docs" in text
        assert "mkdocs build --strict" in text


def test_the_readme_names_every_class_that_sends_connection_created() -> None:
    """Classes that send it themselves, or hand themselves to the SQLite connection
    helper as the ``owner`` it sends as the sender."""
    sends = re.compile(r"connection_created\.a?send\(type\(self\)|owner=type\(self\)")
    senders = set()
    for path in (ROOT / "reqsignals").rglob("*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and sends.search(
                ast.get_source_segment(source, node) or ""
            ):
                senders.add(node.name)
    assert {"SQLiteStore", "RedisStore", "SQLiteBackend", "SQLiteCounter"} <= senders
    row = next(
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `connection_created`")
    )
    for name in senders:
        assert f"`{name}`" in row, name


# -- what each example needs ---------------------------------------------------------------


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of *tree* but those under ``if TYPE_CHECKING:``, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING_TESTS:
            for child in node.orelse:
                yield child
                yield from runtime_nodes(child)
        else:
            yield node
            yield from runtime_nodes(node)


TYPE_CHECKING_TESTS = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def imported_modules(path: Path, seen: set[Path] | None = None) -> set[str]:
    """The top-level modules *path* imports, following imports within examples/."""
    seen = seen if seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "examples.receivers." + base if base else "examples.receivers"
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("examples."):
                file = ROOT / (name.replace(".", "/") + ".py")
                if file.exists():
                    found |= imported_modules(file, seen)
            else:
                found.add(name.partition(".")[0])
    return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_examples_page_says_what_each_example_needs() -> None:
    page = (ROOT / "docs" / "examples.md").read_text()
    section = page.split("## What to install", 1)[1].split("\n## ", 1)[0]
    needs = dict(re.findall(r"^\| `(examples/\w+\.py)` \| (.*) \|$", section, re.M))
    apps = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "examples").glob("*.py")
        if p.name != "__init__.py"
    )
    assert sorted(needs) == apps
    distributions = importlib.metadata.packages_distributions()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    installable = {
        normalise(re.split(r"[<>=\[ ]", d)[0]) for d in pyproject["dependency-groups"]["examples"]
    }
    for extra in pyproject["project"]["optional-dependencies"].values():
        installable |= {normalise(re.split(r"[<>=\[ ]", d)[0]) for d in extra}
    for app, cell in needs.items():
        stdlib = sys.stdlib_module_names
        third_party = {
            m for m in imported_modules(ROOT / app) if m not in stdlib and m != "reqsignals"
        }
        for module in third_party:
            (dist,) = {normalise(d) for d in distributions[module]}
            assert f"`{dist}`" in cell, (app, dist)
            assert dist in installable, dist
        for name in re.findall(r"`([\w-]+)`", cell):
            extras = pyproject["project"]["optional-dependencies"]
            assert name in extras or normalise(name) in installable, (app, name)
    assert "pip install -e '.[all]' --group examples" in page


def test_the_readme_starts_with_the_two_set_up_commands() -> None:
    """The first two code blocks: serve the demo, then run the suite (what CI runs)."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert [block.strip() for block in blocks[:2]] == ["bash scripts/run", "bash scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec bash scripts/test" in ci
