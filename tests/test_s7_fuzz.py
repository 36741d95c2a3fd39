"""Fuzzing the TPKT/COTP/S7comm/S7comm-plus decoders: only Messages or counted ParseErrors.

Inputs are random bytes and mutations of the valid fixtures of the other S7 test modules, fed
whole, in random chunks and to the pure decoders directly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_cotp import CC_S7, CR_S7, DC, DR, ER
from test_s7comm import (
    PI_DELE,
    PI_INSE,
    READ_VAR_ACK,
    READ_VAR_JOB,
    REQUEST_DOWNLOAD,
    START_UPLOAD_ACK,
    WRITE_VAR_JOB,
)
from test_s7comm_plus import EXPLORE_V2, NOTIFICATION, SET_VARIABLE_REQ
from test_s7comm_userdata import (
    CYCLIC_PUSH,
    FRAG_1,
    FRAG_2,
    LIST_TYPE_RES,
    SZL_001C_RES,
    SZL_0011_RES,
    SZL_0424_RES,
)

from parsers.base import Message, ParseError
from parsers.cotp import decode_cotp
from parsers.s7_szl import szl_response
from parsers.s7_userdata import UdHead, userdata_data, userdata_param
from parsers.s7comm import MAX_PENDING, MAX_UD_FRAGMENTS, S7Parser
from parsers.s7comm_plus import PlusState

PDUS = [
    READ_VAR_JOB,
    READ_VAR_ACK,
    WRITE_VAR_JOB,
    PI_INSE,
    PI_DELE,
    REQUEST_DOWNLOAD,
    START_UPLOAD_ACK,
    SZL_0011_RES,
    SZL_001C_RES,
    SZL_0424_RES,
    FRAG_1,
    FRAG_2,
    LIST_TYPE_RES,
    CYCLIC_PUSH,
    SET_VARIABLE_REQ,
    NOTIFICATION,
    EXPLORE_V2,
]
COTP_PACKETS = [CR_S7, CC_S7, DR, DC, ER]


def dt(payload: bytes, eot: bool = True) -> bytes:
    return (
        bytes([3, 0]) + (len(payload) + 7).to_bytes(2, "big") + bytes([2, 0xF0, 0x80 if eot else 0]) + payload
    )


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A corpus entry with a few byte replacements, insertions, deletions or a truncation."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


def feed_all(parser: S7Parser, chunks: list[tuple[bytes, bool]]) -> list[Message]:
    out: list[Message] = []
    for data, to_server in chunks:
        out += parser.feed(data, to_server)
    assert all(isinstance(m, Message) and m.dataset in ("cotp", "s7comm", "s7comm_plus") for m in out)
    assert all(isinstance(e, ParseError) for e in parser.errors)
    assert len(parser.errors) <= parser.max_errors
    return out


def _bounded(parser: S7Parser) -> None:
    assert len(parser._pending) <= MAX_PENDING
    assert len(parser._ud_frags) <= MAX_UD_FRAGMENTS


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.booleans()), max_size=12))
def test_random_bytes_in_random_chunks(chunks: list[tuple[bytes, bool]]) -> None:
    parser = S7Parser()
    feed_all(parser, chunks)
    _bounded(parser)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(mutated(PDUS), st.booleans(), st.booleans()), min_size=1, max_size=10))
def test_mutated_pdus_in_valid_framing(items: list[tuple[bytes, bool, bool]]) -> None:
    parser = S7Parser()
    feed_all(parser, [(dt(pdu, eot), to_server) for pdu, to_server, eot in items])
    _bounded(parser)


@settings(max_examples=300, deadline=None)
@given(mutated([dt(p) for p in PDUS] + COTP_PACKETS), st.integers(1, 64), st.booleans())
def test_mutated_streams_split_anywhere(stream: bytes, step: int, midstream: bool) -> None:
    parser = S7Parser()
    if midstream:
        parser.start_midstream()
    feed_all(parser, [(stream[i : i + step], True) for i in range(0, len(stream), step)])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_decode_cotp_raises_only_parse_error(data: bytes) -> None:
    try:
        ptype, offset, fields = decode_cotp(data, 0, len(data))
    except ParseError:
        return
    assert 0 <= offset <= len(data) and (fields is None) == (ptype == 0xF)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_szl_answer_decoder_never_raises(data: bytes) -> None:
    f: dict[str, Any] = {}
    flags: list[str] = []
    szl_response(data, 0, len(data), f, flags)
    assert all(isinstance(x, str) for x in flags)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=16), st.binary(max_size=200), st.integers(0, 255))
def test_userdata_decoders_never_raise(param: bytes, data: bytes, ret: int) -> None:
    f: dict[str, Any] = {}
    flags: list[str] = []
    head = userdata_param(param, 0, len(param), f, flags)
    assert isinstance(head, UdHead)
    userdata_data(head, ret, data, 0, len(data), f, flags)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(mutated([SET_VARIABLE_REQ, NOTIFICATION, EXPLORE_V2]), st.booleans()), max_size=8))
def test_s7comm_plus_state_raises_only_parse_error(items: list[tuple[bytes, bool]]) -> None:
    state = PlusState()
    out: list[Message] = []
    for data, to_server in items:
        try:
            state.decode(data, 0, len(data), to_server, out)
        except ParseError:
            pass
    assert all(m.dataset == "s7comm_plus" for m in out)
    assert len(state._pending) <= MAX_PENDING
