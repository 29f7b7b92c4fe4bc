"""Loading and finding challenges (runner/spec/challenge.py): the built-in spec loads, a bad
file, YAML or top level gives one SpecError naming the file, the field and what was expected,
and ids are found, listed and unique across the search folders.

The parts of a spec are in test_challenge_parts.py, its incident sections in
test_challenge_incidents.py and the gate's section in test_challenge_validation.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prodproven.runner.errors import ChallengeClash, ChallengeNotFound
from prodproven.runner.spec.challenge import (
    Catalog,
    Challenge,
    Unloadable,
    find_by_id,
    find_challenge,
    list_challenges,
    load_challenge,
)
from tests.conftest import BUILTIN, MakeChallenge
from tests.unit.specsupport import problems_of


def test_builtin_deploy_model_loads(catalog: Catalog) -> None:
    challenge = load_challenge(BUILTIN / "deploy-model", catalog)
    assert challenge.spec.id == "deploy-model"
    assert [g.kind for g in challenge.spec.graders] == ["correctness", "pytest", "load", "load"]
    assert challenge.spec.resources.memory_bytes == 2**30


def test_missing_required_field_is_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.pop("title"))
    assert "title: required field is missing" in problems_of(root, catalog)


def test_unknown_field_is_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(time_limit=5))
    assert "time_limit: unknown field" in problems_of(root, catalog)


def test_wrong_type_names_field_and_value(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(time_limit_minutes="soon"))
    message = problems_of(root, catalog)
    assert "time_limit_minutes" in message and "'soon'" in message


def test_missing_files_are_named(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge()
    shutil.rmtree(root / "workspace")
    (root / "brief.md").unlink()
    message = problems_of(root, catalog)
    assert "workspace: the folder" in message and "brief.md: the file" in message


def test_hidden_folder_is_required_only_without_a_prepare_script(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda spec: spec.pop("prepare"))
    shutil.rmtree(root / "hidden")
    assert "hidden: the folder" in problems_of(root, catalog)


def test_invalid_yaml_reports_line(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(raw="id: deploy-model\ntitle: [unclosed\n")
    assert "not valid YAML at line" in problems_of(root, catalog)


def test_top_level_must_be_a_mapping(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(raw="- just\n- a list\n")
    assert "top level must be a mapping" in problems_of(root, catalog)


def test_id_must_match_folder(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: s.update(id="other-name"))
    assert "must equal the folder name" in problems_of(root, catalog)


def test_every_problem_is_reported_at_once(make_challenge: MakeChallenge, catalog: Catalog) -> None:
    root = make_challenge(lambda s: (s.pop("title"), s.update(version="one")))
    message = problems_of(root, catalog)
    assert "title" in message and "version" in message


def test_find_by_id_and_by_path(catalog: Catalog) -> None:
    by_id = find_challenge("deploy-model", [BUILTIN], catalog)
    by_path = find_challenge(str(BUILTIN / "deploy-model"), [], catalog)
    assert by_id.root == by_path.root


def test_unknown_id_lists_known_challenges(catalog: Catalog) -> None:
    with pytest.raises(ChallengeNotFound, match="known: .*deploy-model"):
        find_challenge("nope", [BUILTIN], catalog)


def test_list_reports_broken_challenges_instead_of_failing(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    root = make_challenge(lambda s: s.pop("graders"))
    [found] = list_challenges([root.parent], catalog)
    assert isinstance(found, Unloadable) and "graders: required field is missing" in found.problem


# discovery: ids are unique across the search folders -----------------------------------------


def copy_of_deploy_model(into: Path) -> Path:
    """A search folder ``into`` holding a copy of deploy-model."""
    shutil.copytree(BUILTIN / "deploy-model", into / "deploy-model")
    return into


def test_an_id_found_in_two_search_folders_is_a_clash_naming_both(
    tmp_path: Path, catalog: Catalog
) -> None:
    extra = copy_of_deploy_model(tmp_path / "extra")
    with pytest.raises(ChallengeClash) as info:
        find_challenge("deploy-model", [BUILTIN, extra], catalog)
    message = str(info.value)
    assert "'deploy-model'" in message
    assert str(BUILTIN / "deploy-model") in message and str(extra / "deploy-model") in message


def test_a_clashing_id_given_as_a_folder_path_still_loads(tmp_path: Path, catalog: Catalog) -> None:
    extra = copy_of_deploy_model(tmp_path / "extra")
    found = find_challenge(str(extra / "deploy-model"), [BUILTIN, extra], catalog)
    assert found.root == (extra / "deploy-model").resolve()


def test_list_shows_a_clash_once_in_place_of_the_challenge(
    tmp_path: Path, catalog: Catalog
) -> None:
    extra = copy_of_deploy_model(tmp_path / "extra")
    found = list_challenges([BUILTIN, extra], catalog)
    clashes = [c for c in found if isinstance(c, Unloadable)]
    assert [c.id for c in clashes] == ["deploy-model"] and "used by 2 folders" in clashes[0].problem
    assert clashes[0].folders == (BUILTIN / "deploy-model", extra / "deploy-model")
    assert not any(isinstance(c, Challenge) and c.id == "deploy-model" for c in found)


def test_a_search_folder_named_twice_is_searched_once(catalog: Catalog) -> None:
    found = find_challenge("deploy-model", [BUILTIN, BUILTIN / ".." / "challenges"], catalog)
    assert found.root == BUILTIN / "deploy-model"


def test_search_folders_are_listed_in_order(
    tmp_path: Path, make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    later = make_challenge(lambda s: s.update(id="aaa-first-by-name")).parent
    (later / "deploy-model").rename(later / "aaa-first-by-name")
    ids = [c.id for c in list_challenges([BUILTIN, later], catalog) if isinstance(c, Challenge)]
    assert ids[-1] == "aaa-first-by-name" and "deploy-model" in ids[:-1]


# hostile folders: one bad challenge never hides the others, nothing outside is quoted ---------

ALIAS_BOMB = "a0: &a0 [x, x]\n" + "".join(
    f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 32)
)


def test_a_yaml_alias_bomb_is_refused_with_a_short_message(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    for raw in (ALIAS_BOMB, ALIAS_BOMB + "title: *a31\n"):
        message = problems_of(make_challenge(raw=raw), catalog)
        assert len(message) < 1024


def test_a_huge_value_in_a_spec_is_not_echoed_whole(
    make_challenge: MakeChallenge, catalog: Catalog
) -> None:
    message = problems_of(make_challenge(lambda s: s.update(competencies="x" * 500_000)), catalog)
    assert "competencies" in message and len(message) < 1024


def test_a_challenge_yaml_linked_to_a_file_outside_is_refused_without_quoting_it(
    make_challenge: MakeChallenge, catalog: Catalog, tmp_path: Path
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n")
    root = make_challenge()
    (root / "challenge.yaml").unlink()
    (root / "challenge.yaml").symlink_to(secret)
    message = problems_of(root, catalog)
    assert "leads out of" in message and "secret-hash" not in message


def break_in_place(root: Path, how: str) -> None:
    spec = root / "challenge.yaml"
    if how == "yaml":
        spec.write_text("id: [unclosed\n")
    elif how == "alias bomb":
        spec.write_text(ALIAS_BOMB)
    elif how == "not utf-8":
        spec.write_bytes(b"id: \xff\xfe\n")
    elif how == "symlink loop":
        spec.unlink()
        spec.symlink_to(spec)
    elif how == "a folder":
        spec.unlink()
        spec.mkdir()
    elif how == "huge int":
        spec.write_text("time_limit_minutes: " + "9" * 5000 + "\n")
    elif how == "bad date":
        spec.write_text("title: 2020-13-45\n")
    elif how == "holds itself":
        spec.write_text("title: &a [*a]\n")


@pytest.mark.parametrize(
    "how",
    [
        "yaml",
        "alias bomb",
        "not utf-8",
        "symlink loop",
        "a folder",
        "huge int",
        "bad date",
        "holds itself",
    ],
)
def test_one_bad_challenge_yaml_does_not_stop_the_others_from_being_listed(
    make_challenge: MakeChallenge, catalog: Catalog, how: str
) -> None:
    copy = make_challenge()
    root = copy.rename(copy.parent / "acme-broken")
    break_in_place(root, how)
    found = list_challenges([BUILTIN, root.parent], catalog)
    assert {c.id for c in found if isinstance(c, Challenge)} >= {"fix-drift", "incident-response"}
    [broken] = [c for c in found if isinstance(c, Unloadable) and c.folders == (root,)]
    assert broken.problem and len(broken.problem) < 1024


def test_find_by_id_takes_an_id_never_a_path(tmp_path: Path, catalog: Catalog) -> None:
    for ref in (str(BUILTIN / "deploy-model"), "./deploy-model", "../etc", str(tmp_path)):
        with pytest.raises(ChallengeNotFound) as info:
            find_by_id(ref, [BUILTIN], catalog)
        assert ref not in str(info.value)
    assert find_by_id("deploy-model", [BUILTIN], catalog).root == BUILTIN / "deploy-model"
