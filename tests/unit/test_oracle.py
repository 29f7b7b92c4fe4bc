"""The validator's answer server: serves its key only with the token, records every visit."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from prodproven.runner.gate.oracle import local_addresses, serving

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
     |-- 172.17.0.1
        /32 host LOCAL
     |-- 10.0.3.15
        /32 host LOCAL
     |-- 10.0.3.255
        /32 link BROADCAST
"""


def test_local_addresses_are_the_non_loopback_local_ones(tmp_path: Path) -> None:
    trie = tmp_path / "fib_trie"
    trie.write_text(FIB_TRIE)
    assert local_addresses(trie) == ("10.0.3.15", "172.17.0.1")


def test_local_addresses_are_empty_without_a_routing_table(tmp_path: Path) -> None:
    assert local_addresses(tmp_path / "absent") == ()


def test_the_key_is_served_with_a_visitors_token_and_the_visit_recorded_as_theirs() -> None:
    with serving({"files": {"a.json": [1]}}) as served:
        address = served.address("network")
        url = f"http://127.0.0.1:{address.port}/key?token={address.token}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert json.loads(resp.read()) == {"files": {"a.json": [1]}}
        assert served.hits_of("network") == [
            {"from": "127.0.0.1", "path": "/key", "visitor": "network"}
        ]


def test_each_visitor_gets_its_own_token() -> None:
    with serving({}) as served:
        assert served.address("a").token != served.address("b").token
        assert served.address("a") == served.address("a")


def test_a_wrong_token_gets_403_and_is_recorded_as_nobodys() -> None:
    with serving({"files": {}}) as served:
        served.address("network")
        url = f"http://127.0.0.1:{served.port}/key?token=guess"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=5)
        assert caught.value.code == 403
        assert [hit["visitor"] for hit in served.hits] == [None]
