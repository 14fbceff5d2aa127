"""Typed statuses: dicts and lists stored as JSON, `read_all_json`."""

from __future__ import annotations

import json
import math

import pytest

import parallel_scoreboard as ps


def test_dict_and_list_are_stored_as_compact_json(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    status = {"state": "busy", "path": "/caf\u00e9", "n": 12, "t": 1.5, "tags": ["a", None]}
    w.update(status)
    raw = board.read_all()["w"]
    assert raw == json.dumps(status, separators=(",", ":"), ensure_ascii=False).encode()
    assert "caf\u00e9".encode() in raw  # UTF-8, not \\u escapes
    assert board.read_all_json() == {"w": status}
    w.update([1, [2, 3], {"k": "v"}])
    assert board.read_all_json() == {"w": [1, [2, 3], {"k": "v"}]}


def test_subclasses_of_dict_and_list(board_dir):
    import collections

    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update(collections.OrderedDict([("b", 1), ("a", 2)]))
    assert board.read_all()["w"] == b'{"b":1,"a":2}'


def test_read_all_json_leaves_other_statuses_as_bytes(board_dir):
    board = ps.Scoreboard(board_dir)
    ws = {k: board.worker(k) for k in ("json", "text", "binary", "number", "empty", "partial")}
    ws["json"].update(b'{"a": [1, 2]}')
    ws["text"].update(b"idle")
    ws["binary"].update(b"\xff\xfe{}")
    ws["number"].update(b"42")
    ws["empty"].update(b"")
    ws["partial"].update(b'{"a": 1} trailing')
    assert board.read_all_json() == {
        "json": {"a": [1, 2]},
        "text": b"idle",
        "binary": b"\xff\xfe{}",
        "number": 42,
        "empty": b"",
        "partial": b'{"a": 1} trailing',
    }


def test_unserialisable_values_raise_and_keep_the_status(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update({"ok": True})
    with pytest.raises(TypeError):
        w.update({"when": object()})
    with pytest.raises(ValueError):
        w.update({"nan": math.nan})  # not JSON: other readers could not parse it
    with pytest.raises(TypeError):
        board.update([{1, 2}])
    assert board.read_all_json() == {"w": {"ok": True}}


def test_board_update_with_json_under_a_custom_id(board_dir):
    board = ps.Scoreboard(board_dir, worker_id=lambda: "custom")
    board.update({"state": "idle"})
    assert board.read_all_json() == {"custom": {"state": "idle"}}


def test_encoding_follows_the_json_module(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    values = [
        {"int keys": {1: "a", -2: "b"}},
        {"big": 2**70, "neg": -(2**64), "u64": 2**64 - 1, "i64": -(2**63)},
        {"floats": [0.1, 1.5, -0.0, 1e300, 5e-324, 3.0, 1796623858.36]},
        {"tuple": (1, 2), "nested": [[[]], {}], "bool": [True, False], "none": None},
        {"escapes": "quote\" backslash\\ newline\n tab\t nul\x00 \u2028 \U0001f600"},
    ]
    for value in values:
        w.update(value)
        raw = board.read_all()["w"]
        # The same value as the json module reads it back.
        assert json.loads(raw) == json.loads(json.dumps(value)), raw


def test_encoding_refuses_what_json_cannot_say(board_dir):
    import decimal

    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update({"kept": 1})
    loop: list = []
    loop.append(loop)
    for bad, exc in [
        ({True: 1}, TypeError),
        ({(1, 2): 1}, TypeError),
        ({"d": decimal.Decimal("1.5")}, TypeError),
        ({"b": b"bytes"}, TypeError),
        ({"inf": math.inf}, ValueError),
        (loop, ValueError),
        ({"s": "\udc80"}, UnicodeEncodeError),
    ]:
        with pytest.raises(exc):
            w.update(bad)
    assert board.read_all_json() == {"w": {"kept": 1}}


def test_decoding(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    for raw, value in [
        (b'  {"a": [1, 2.5, "x", null, true]}  ', {"a": [1, 2.5, "x", None, True]}),
        (b'"just a string"', "just a string"),
        (b"[]", []),
        (b'{"u": "\\u00e9\\ud83d\\ude00"}', {"u": "\u00e9\U0001f600"}),
        (b"18446744073709551615", 18446744073709551615),
        (b"-9223372036854775808", -9223372036854775808),
    ]:
        w.update(raw)
        assert board.read_all_json() == {"w": value}, raw
        (s,) = board.snapshot().workers
        assert s.json() == value
    # Beyond 64 bits, integers come back as floats.
    w.update(b"123456789012345678901234567890")
    assert board.read_all_json()["w"] == pytest.approx(1.2345678901234568e29)


def test_hostile_statuses_are_left_as_bytes(board_dir):
    board = ps.Scoreboard(board_dir)
    w = {k: board.worker(k) for k in ("deep", "deep-valid", "huge-number", "unclosed", "nul")}
    w["deep"].update(b"[" * 100_000)
    w["deep-valid"].update(b"[" * 100 + b"]" * 100)
    w["huge-number"].update(b"1" * 5000)
    w["unclosed"].update(b'{"a": "')
    w["nul"].update(b'{"a": "\x00"}')
    got = board.read_all_json()
    assert got["deep"] == b"[" * 100_000
    nested = got["deep-valid"]
    for _ in range(99):
        (nested,) = nested
    assert nested == []
    # Beyond a float's range: not a number serde_json reads, left as bytes.
    assert got["huge-number"] == b"1" * 5000
    assert got["unclosed"] == b'{"a": "'
    assert got["nul"] == b'{"a": "\x00"}'  # a raw control character is not JSON
