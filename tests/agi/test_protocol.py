"""The sans-I/O FastAGI parser, fed bytes: whole, in pieces, truncated, oversized, random."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agi.errors import AgiProtocolError
from agi.protocol import (
    MAX_BLOCK_BYTES,
    MAX_LINE_BYTES,
    RequestParser,
    asterisk_block,
    event_from_request,
    parse_request,
)
from app.events import EVENT_NAMES


def block(script="12/345/2/answered", args=(), **kw):
    return b"".join(asterisk_block(script, args, **kw))


def feed_all(pieces):
    parser = RequestParser()
    result = None
    for piece in pieces:
        result = parser.feed(piece)
    return result


def test_it_parses_the_block_asterisk_sends():
    request = parse_request(block("12/345/2/hangup", ["16"], uniqueid="1700000001.77",
                                  channel="PJSIP/trunk-0000002a"))
    assert request.env["agi_network"] == "yes"
    assert request.env["agi_network_script"] == "12/345/2/hangup"
    assert request.env["agi_request"] == "agi://127.0.0.1:4573/12/345/2/hangup"
    assert request.env["agi_accountcode"] == ""
    assert request.args == ("16",)
    event = event_from_request(request)
    assert (event.campaign_id, event.contact_id, event.attempt, event.name) == (12, 345, 2, "hangup")
    assert event.uniqueid == "1700000001.77"
    assert event.channel == "PJSIP/trunk-0000002a"
    assert event.data == {"hangupcause": "16"}
    assert event.source == "agi"


def test_it_gives_the_same_request_byte_by_byte_as_in_one_piece():
    data = block("1/2/1/dtmf-#", ["a", "b"])
    whole = parse_request(data)
    assert feed_all(data[i:i + 1] for i in range(len(data))) == whole
    assert feed_all(asterisk_block("1/2/1/dtmf-#", ["a", "b"])) == whole


def test_it_needs_the_blank_line():
    data = block()
    parser = RequestParser()
    assert parser.feed(data[:-1]) is None
    assert not parser.done
    assert parser.feed(b"\n") is not None
    with pytest.raises(AgiProtocolError) as exc:
        parse_request(data[:-1])
    assert exc.value.reason == "truncated"


def test_it_splits_values_on_the_first_colon_only():
    data = (
        "agi_network_script: 1/2/3/answered\n"
        "agi_channel: Local/a:b=c d@ctx-0001;2\n"
        "agi_calleridname: Zoë Ünïcode: “quoted” = yes\n"
        "agi_accountcode: \n"
        "agi_rdnis:\n"
        "agi_arg_1:  two leading spaces\n"
        "\n"
    ).encode()
    request = parse_request(data)
    assert request.env["agi_channel"] == "Local/a:b=c d@ctx-0001;2"
    assert request.env["agi_calleridname"] == "Zoë Ünïcode: “quoted” = yes"
    assert request.env["agi_accountcode"] == ""
    assert request.env["agi_rdnis"] == ""
    assert request.args == (" two leading spaces",)


def test_it_tolerates_crlf_and_invalid_utf8_in_values():
    request = parse_request(b"agi_network_script: 1/2/3/answered\r\nagi_calleridname: caf\xe9\r\n\r\n")
    assert request.env["agi_calleridname"] == "caf\ufffd"
    assert event_from_request(request).name == "answered"


def test_it_tolerates_an_unprompted_hangup_line():
    lines = asterisk_block("5/6/1/hangup", ["17"])
    lines.insert(5, b"HANGUP\n")
    request = feed_all(lines + [b"HANGUP\n"])
    assert event_from_request(request).data == {"hangupcause": "17"}


@pytest.mark.parametrize("script, arg, data", [
    ("5/6/1/invalid", "7", {"key": "7"}),  # a key that is no option
    ("5/6/1/failed-busy", "5", {"reason": "5"}),  # Asterisk's raw ${REASON}
    ("5/6/1/failed-failed", "", {}),
    ("5/6/1/dtmf-1", "x", {}),  # the digit is in the name: nothing else kept
])
def test_it_keeps_the_argument_of_invalid_and_failed_events(script, arg, data):
    request = feed_all(asterisk_block(script, [arg]))
    assert event_from_request(request).data == data


def test_it_ignores_bytes_after_the_blank_line():
    parser = RequestParser()
    request = parser.feed(block() + b"HANGUP\ngarbage without newline")
    assert request is not None
    assert parser.feed(b"more junk\n") is request


@pytest.mark.parametrize("name", sorted(EVENT_NAMES))
def test_it_accepts_every_event_of_the_vocabulary(name):
    event = event_from_request(parse_request(block(f"7/8/1/{name}")))
    assert event.name == name


@pytest.mark.parametrize(
    "script, reason",
    [
        ("7/8/1/lost", "unknown_event"),
        ("7/8/1/failed-bogus", "unknown_event"),
        ("7/8/1/dtmf-10", "unknown_event"),
        ("7/8/1/ANSWERED", "bad_script"),
        ("7/8/answered", "bad_script"),
        ("/7/8/1/answered", "bad_script"),
        ("7/8/1/answered/extra", "bad_script"),
        ("0/8/1/answered", "bad_script"),
        ("7/08/1/answered", "bad_script"),
        ("7/-8/1/answered", "bad_script"),
        ("x/8/1/answered", "bad_script"),
        ("7/8/1/answered?x=1", "bad_script"),
        ("99999999999999999999/8/1/answered", "bad_script"),
        ("2147483648/8/1/answered", "bad_script"),
        ("7/8/2147483648/answered", "bad_script"),
        ("", "no_script"),
    ],
)
def test_it_refuses_unknown_events_and_malformed_paths(script, reason):
    request = parse_request(block(script))
    with pytest.raises(AgiProtocolError) as exc:
        event_from_request(request)
    assert exc.value.reason == reason


def test_it_reads_the_path_from_agi_request_when_no_network_script():
    request = parse_request(b"agi_request: agi://10.0.0.5:4573/3/4/2/timeout\n\n")
    event = event_from_request(request)
    assert (event.campaign_id, event.contact_id, event.attempt, event.name) == (3, 4, 2, "timeout")


def test_it_stores_a_hangup_without_cause_with_empty_data():
    assert event_from_request(parse_request(block("1/1/1/hangup"))).data == {}
    assert event_from_request(parse_request(block("1/1/1/hangup", [""]))).data == {}
    assert event_from_request(parse_request(block("1/1/1/answered", ["16"]))).data == {}


def test_it_cuts_over_long_channel_and_uniqueid_to_the_columns():
    event = event_from_request(parse_request(block(channel="C" * 500, uniqueid="9" * 200)))
    assert len(event.channel) == 128
    assert len(event.uniqueid) == 64


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"agi_network yes\n\n", "malformed_line"),
        (b"Agi_network: yes\n\n", "bad_header"),
        (b"foo: bar\n\n", "bad_header"),
        (b"agi_channel: a\nagi_channel: b\n\n", "duplicate_header"),
        (b"agi_arg_2: x\n\n", "bad_args"),
        (b"agi_arg_0: x\n\n", "bad_args"),
        (b"\x00\x01\x02: x\n\n", "bad_header"),
    ],
)
def test_it_refuses_malformed_lines(data, reason):
    with pytest.raises(AgiProtocolError) as exc:
        parse_request(data)
    assert exc.value.reason == reason


def test_it_refuses_a_one_megabyte_line_as_soon_as_the_limit_passes():
    parser = RequestParser()
    assert parser.feed(b"agi_channel: " + b"x" * (MAX_LINE_BYTES - 100)) is None
    with pytest.raises(AgiProtocolError) as exc:
        parser.feed(b"x" * (1024 * 1024))
    assert exc.value.reason == "line_too_long"


def test_it_refuses_ten_thousand_lines():
    data = b"".join(b"agi_x%d: y\n" % i for i in range(10_000)) + b"\n"
    with pytest.raises(AgiProtocolError) as exc:
        parse_request(data)
    assert exc.value.reason == "too_many_lines"


def test_it_refuses_a_block_over_the_size_limit():
    line = b"agi_calleridname: " + b"n" * (MAX_LINE_BYTES - 40) + b"\n"
    data = b"".join(line.replace(b"name", b"nam%d" % i) for i in range(MAX_BLOCK_BYTES // len(line) + 2))
    with pytest.raises(AgiProtocolError) as exc:
        feed_all(data[i:i + 1000] for i in range(0, len(data), 1000))
    assert exc.value.reason in {"block_too_large", "bad_header"}
    parser = RequestParser(max_lines=10_000)
    with pytest.raises(AgiProtocolError) as exc:
        parser.feed(b"".join(b"agi_k%d: %s\n" % (i, b"v" * 1000) for i in range(100)))
    assert exc.value.reason == "block_too_large"


# --- properties --------------------------------------------------------------

values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=60,
)
keys = st.from_regex(r"agi_[a-z0-9_]{1,20}", fullmatch=True).filter(
    lambda k: not k.startswith("agi_arg_")
)


@settings(max_examples=150, deadline=None)
@given(env=st.dictionaries(keys, values, max_size=25), args=st.lists(values, max_size=5),
       cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12))
def test_it_parses_any_valid_block_however_it_is_cut(env, args, cuts):
    lines = [f"{k}: {v}\n" for k, v in env.items()]
    lines += [f"agi_arg_{i}: {a}\n" for i, a in enumerate(args, 1)]
    data = ("".join(lines) + "\n").encode()
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    request = feed_all(data[a:b] for a, b in zip(points, points[1:]))
    assert request is not None
    assert request.env == {**env, **{f"agi_arg_{i}": a for i, a in enumerate(args, 1)}}
    assert request.args == tuple(args)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.binary(max_size=3000), max_size=20))
def test_it_never_fails_other_than_with_a_protocol_error_on_random_bytes(pieces):
    parser = RequestParser()
    try:
        for piece in pieces:
            request = parser.feed(piece)
            if request is not None:
                try:
                    event_from_request(request)
                except AgiProtocolError:
                    pass
                break
    except AgiProtocolError as exc:
        assert exc.reason.isidentifier()
    # Whatever happened, the parser never holds more than a block's worth.
    assert len(parser._buf) <= MAX_BLOCK_BYTES + 3000


@settings(max_examples=100, deadline=None)
@given(campaign=st.integers(1, 2**31 - 1), contact=st.integers(1, 2**31 - 1),
       attempt=st.integers(0, 2**31 - 1), name=st.sampled_from(sorted(EVENT_NAMES)))
def test_it_round_trips_any_valid_event_key(campaign, contact, attempt, name):
    event = event_from_request(parse_request(block(f"{campaign}/{contact}/{attempt}/{name}")))
    assert event.key == (campaign, contact, attempt, name)
