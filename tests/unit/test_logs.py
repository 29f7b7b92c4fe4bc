"""One logging configuration: the prodproven loggers write to <data>/logs/prodproven.log at
the level of the log_level setting."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodproven.runner import logs
from prodproven.runner.config import Settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    logger = logging.getLogger(logs.ROOT_LOGGER)
    handlers, level = list(logger.handlers), logger.level
    yield
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers, logger.level = handlers, level


def test_records_go_to_the_log_file_of_the_data_dir(tmp_path: Path) -> None:
    path = logs.configure(Settings.from_env({}, data_dir=tmp_path))
    logging.getLogger("prodproven.runner.somewhere").info("hello %s", "there")
    assert path == tmp_path / "logs" / "prodproven.log"
    [line] = path.read_text().splitlines()
    assert " INFO " in line
    assert line.endswith("prodproven.runner.somewhere: hello there")


def test_the_level_comes_from_the_log_level_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRODPROVEN_LOG_LEVEL": "warning"}, data_dir=tmp_path)
    path = logs.configure(settings)
    logger = logging.getLogger("prodproven.test")
    logger.info("not written")
    logger.warning("written")
    assert [line.rsplit(": ", 1)[1] for line in path.read_text().splitlines()] == ["written"]


def test_configuring_again_moves_the_log_to_the_new_data_dir(tmp_path: Path) -> None:
    first = logs.configure(Settings.from_env({}, data_dir=tmp_path / "a"))
    second = logs.configure(Settings.from_env({}, data_dir=tmp_path / "b"))
    logging.getLogger("prodproven.test").info("once")
    assert first.read_text() == ""
    assert second.read_text().count("once") == 1


def test_the_file_rotates_by_size(tmp_path: Path) -> None:
    logs.configure(Settings.from_env({}, data_dir=tmp_path))
    [handler] = [h for h in logging.getLogger(logs.ROOT_LOGGER).handlers if h.get_name()]
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (logs.MAX_BYTES, logs.BACKUPS)
