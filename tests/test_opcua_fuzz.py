"""Fuzz of every OPC UA decoder: service bodies, the service dispatcher, and the whole parser fed
random and mutated chunks in random splits. Nothing may raise (the driver counts ParseErrors), no
buffer or table may grow past its bound, and every loop must end."""

from __future__ import annotations

from asyncua import ua
from asyncua.ua.ua_binary import struct_to_binary
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.base import ParseError
from parsers.opcua import OpcUaParser
from parsers.opcua.parser import MAX_PENDING
from parsers.opcua.secure import MAX_CHANNELS, MAX_PARTIALS
from parsers.opcua.services import BODIES, decode_service
from parsers.opcua.types import Reader


def _seeds() -> list[bytes]:
    """Valid service messages (asyncua's encoder) to mutate."""
    read = ua.ReadRequest()
    read.Parameters.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId("x", 2), AttributeId=13)]
    write = ua.WriteRequest()
    write.Parameters.NodesToWrite = [ua.WriteValue(NodeId=ua.NodeId(5, 1), AttributeId=13,
                                                   Value=ua.DataValue(ua.Variant([1.5, 2.5], ua.VariantType.Double)))]
    resp = ua.ReadResponse()
    resp.Results = [ua.DataValue(ua.Variant("abc", ua.VariantType.String))]
    endpoints = ua.GetEndpointsResponse()
    endpoints.Endpoints = [ua.EndpointDescription(
        EndpointUrl="opc.tcp://x:4840", SecurityPolicyUri="http://opcfoundation.org/UA/SecurityPolicy#None",
        UserIdentityTokens=[ua.UserTokenPolicy(PolicyId="a", TokenType=ua.UserTokenType.Anonymous)])]
    activate = ua.ActivateSessionRequest()
    activate.Parameters.UserIdentityToken = ua.UserNameIdentityToken(PolicyId="u", UserName="n", Password=b"p")
    browse = ua.BrowseResponse()
    browse.Results = [ua.BrowseResult(References=[ua.ReferenceDescription(BrowseName=ua.QualifiedName("q", 1))])]
    publish = ua.PublishResponse()
    publish.Parameters.NotificationMessage.NotificationData = [ua.DataChangeNotification(MonitoredItems=[
        ua.MonitoredItemNotification(ClientHandle=1, Value=ua.DataValue(ua.Variant(1, ua.VariantType.Int32)))])]
    call = ua.CallRequest()
    call.Parameters.MethodsToCall = [ua.CallMethodRequest(ObjectId=ua.NodeId(1), MethodId=ua.NodeId(2),
                                                          InputArguments=[ua.Variant(3, ua.VariantType.Int64)])]
    objs = [read, write, resp, endpoints, activate, browse, publish, call, ua.CreateSessionRequest(),
            ua.CreateSessionResponse(), ua.OpenSecureChannelRequest(), ua.CreateMonitoredItemsRequest(),
            ua.ServiceFault()]
    return [struct_to_binary(o) for o in objs]


SEEDS = _seeds()


def u32(n: int) -> bytes:
    return (n & 0xFFFFFFFF).to_bytes(4, "little")


def chunk(mtype: bytes, kind: bytes, channel: int, body: bytes) -> bytes:
    if mtype == b"OPN":
        security = u32(47) + b"http://opcfoundation.org/UA/SecurityPolicy#None" + u32(0xFFFFFFFF) * 2
    else:
        security = u32(channel)  # TokenId
    rest = u32(channel) + security + body
    return mtype + kind + u32(8 + len(rest)) + rest


@settings(max_examples=300, deadline=None)
@given(service=st.sampled_from(sorted(BODIES)), body=st.binary(max_size=300))
def test_fuzz_each_service_body(service: int, body: bytes) -> None:
    try:
        BODIES[service](Reader(body, 0, len(body)))
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(seed=st.sampled_from(SEEDS), cut=st.integers(0, 400),
       edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6))
def test_fuzz_mutated_services(seed: bytes, cut: int, edits: list[tuple[int, int]]) -> None:
    data = bytearray(seed[: max(cut, 4)])
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    fields: dict = {}
    try:
        action = decode_service(Reader(bytes(data), 0, len(data)), fields)
    except ParseError:
        return
    assert isinstance(action, str) and action


_message = st.tuples(
    st.sampled_from([b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"MSG", b"CLO"]),
    st.sampled_from([b"F", b"C", b"A"]),
    st.sampled_from([0, 1, 4, 99]),
    st.one_of(
        st.binary(max_size=120),
        st.builds(lambda s, seq, rid: u32(seq) + u32(rid) + s, st.sampled_from(SEEDS), st.integers(0, 3), st.integers(0, 3)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(st.tuples(_message, st.booleans()), max_size=12), split=st.integers(1, 64),
       gap_at=st.integers(-1, 12))
def test_fuzz_parser_stream(messages, split: int, gap_at: int) -> None:
    p = OpcUaParser()
    for i, ((mtype, kind, channel, body), to_server) in enumerate(messages):
        if i == gap_at:
            p.gap(to_server)
        data = chunk(mtype, kind, channel, body) if mtype in (b"OPN", b"MSG", b"CLO") else (
            mtype + kind + u32(8 + len(body)) + body)
        for at in range(0, len(data), split):
            for m in p.feed(data[at : at + split], to_server):
                assert m.dataset == "opcua"
                assert isinstance(m.action, str) and m.action
                assert m.fields["message_type"] in ("HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO")
    assert all(len(b) <= p.max_message for b in p._buf)
    assert len(p._pending) <= MAX_PENDING
    assert len(p._channels) <= MAX_CHANNELS
    assert all(len(r.partials) <= MAX_PARTIALS for r in p._reasm)
    assert len(p.errors) <= p.max_errors


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), split=st.integers(1, 50), midstream=st.booleans())
def test_fuzz_parser_random_bytes(data: bytes, split: int, midstream: bool) -> None:
    p = OpcUaParser()
    if midstream:
        p.start_midstream()
    for at in range(0, len(data), split):
        p.feed(data[at : at + split], at % 2 == 0)
    assert all(len(b) <= p.max_message for b in p._buf)
