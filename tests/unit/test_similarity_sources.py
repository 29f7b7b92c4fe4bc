"""The documents compared (runner/similarity/sources.py): a workspace archive's code and
notebooks, and the starter's folders overlaid in order."""

from __future__ import annotations

from pathlib import Path

from prodproven.runner.similarity import sources
from tests.unit.similaritysupport import archive, write_folder


def test_an_archive_gives_its_code_and_notebooks_sorted_and_nothing_else(tmp_path: Path) -> None:
    tar = archive(
        tmp_path / "w.tar",
        {
            "b.py": "x = 1\n",
            "a/run.sh": "echo hi\n",
            "notes.md": "# notes\n",
            "deploy.yaml": "replicas: 2\n",
            ".autopilot/run.sh": "make\n",
            "broken.ipynb": "{oops",
        },
    )
    assert [d.path for d in sources.of_archive(tar)] == ["a/run.sh", "b.py"]


def test_a_later_starter_folder_replaces_an_earlier_ones_file(tmp_path: Path) -> None:
    given = write_folder(tmp_path / "given", {"model.py": "A = 1\n", "serve.py": "B = 2\n"})
    generated = write_folder(tmp_path / "generated", {"model.py": "A = 3\n"})
    docs = sources.of_folders((given, generated))
    assert [(d.path, d.text) for d in docs] == [("model.py", "A = 3\n"), ("serve.py", "B = 2\n")]
