"""Secure conversation and services: OPN/MSG/CLO chunks, reassembly within negotiated limits,
what is readable under each security mode, request/response pairing, resync after a gap.

Service bodies are encoded with asyncua's own binary encoder (an independent implementation), and
the expected values are the ones given to it; chunk headers are labelled bytes (see ``secure_chunk``).
"""

from __future__ import annotations

import random

import pytest
from asyncua import ua
from asyncua.ua.ua_binary import struct_to_binary

from parsers.opcua import OpcUaParser
from parsers.opcua.parser import MAX_PENDING
from parsers.opcua.secure import MAX_CHUNKS, MAX_MESSAGE

NONE = b"http://opcfoundation.org/UA/SecurityPolicy#None"
B256 = b"http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
CHANNEL = 4
RNG = random.Random(4840)  # "ciphertext" and certificates: fixed bytes, no flaky tests


def noise(n: int) -> bytes:
    while True:
        data = RNG.randbytes(n)
        if data[8:9] not in (b"\x01", b"\x02"):  # never a NodeId encoding where a service id would be
            return data


def u32(n: int) -> bytes:
    return n.to_bytes(4, "little")


def string(s: bytes | None) -> bytes:
    return b"\xff\xff\xff\xff" if s is None else u32(len(s)) + s


def secure_chunk(mtype: bytes, chunk: bytes, security: bytes, seq: int, rid: int, body: bytes,
                 channel: int = CHANNEL, trailer: bytes = b"") -> bytes:
    rest = (
        u32(channel)  # SecureChannelId
        + security  # OPN: asymmetric header; MSG/CLO: TokenId
        + u32(seq)  # SequenceNumber
        + u32(rid)  # RequestId
        + body  # service encoding NodeId + service (or a part of it)
        + trailer  # signature (mode Sign)
    )
    return mtype + chunk + u32(8 + len(rest)) + rest


def asym(policy: bytes = NONE, cert: bytes | None = None, thumb: bytes | None = None) -> bytes:
    return string(policy) + string(cert) + string(thumb)  # SecurityPolicyUri, SenderCertificate, Thumbprint


def msg(body: bytes, seq: int, rid: int, chunk: bytes = b"F", trailer: bytes = b"", token: int = CHANNEL) -> bytes:
    return secure_chunk(b"MSG", chunk, u32(token), seq, rid, body, trailer=trailer)


def encode(obj) -> bytes:
    return struct_to_binary(obj)


def opn_request(mode=ua.MessageSecurityMode.None_, lifetime: int = 600000) -> bytes:
    req = ua.OpenSecureChannelRequest()
    req.Parameters.SecurityMode = mode
    req.Parameters.RequestedLifetime = lifetime
    req.Parameters.ClientNonce = b"\x01" * 32
    return encode(req)


def opn_response(channel: int = CHANNEL, token: int = 7) -> bytes:
    resp = ua.OpenSecureChannelResponse()
    resp.Parameters.SecurityToken.ChannelId = channel
    resp.Parameters.SecurityToken.TokenId = token
    resp.Parameters.SecurityToken.RevisedLifetime = 3600000
    return encode(resp)


class Conn:
    """A parser with both directions and a helper to push bytes."""

    def __init__(self) -> None:
        self.p = OpcUaParser()

    def c(self, data: bytes):
        return self.p.feed(data, True)

    def s(self, data: bytes):
        return self.p.feed(data, False)

    def none_channel(self) -> None:
        assert [m.action for m in self.c(secure_chunk(b"OPN", b"F", asym(), 1, 1, opn_request(), channel=0))] == [
            "open_secure_channel"]
        assert [m.action for m in self.s(secure_chunk(b"OPN", b"F", asym(), 1, 1, opn_response()))] == [
            "open_secure_channel"]


def test_open_secure_channel_none() -> None:
    conn = Conn()
    (req,) = conn.c(secure_chunk(b"OPN", b"F", asym(), 1, 1, opn_request(), channel=0))
    assert req.fields["security_policy"] == NONE.decode()
    assert req.fields["security_mode"] == "None"
    assert req.fields["requested_lifetime"] == 600000
    assert req.fields["client_nonce_length"] == 32
    assert req.fields["request_type"] == "Issue"
    assert req.fields["service"] == "OpenSecureChannelRequest"
    assert req.fields["encrypted"] is False and req.fields["protected"] is False
    (resp,) = conn.s(secure_chunk(b"OPN", b"F", asym(), 1, 1, opn_response()))
    assert resp.action == "open_secure_channel"
    assert resp.fields["service_id"] == 449
    assert resp.fields["secure_channel_id"] == CHANNEL
    assert resp.fields["token_channel_id"] == CHANNEL
    assert resp.fields["token_id"] == 7
    assert resp.fields["revised_lifetime"] == 3600000
    assert resp.fields["matched"] is True
    assert resp.fields["status"] == "Good"
    assert "flags" not in resp.fields


def test_opn_response_with_other_channel_in_token_is_flagged() -> None:
    conn = Conn()
    (resp,) = conn.s(secure_chunk(b"OPN", b"F", asym(), 1, 1, opn_response(channel=9)))
    assert resp.fields["flags"] == ["channel_id_mismatch"]


def test_policy_none_with_signed_mode_is_flagged() -> None:
    conn = Conn()
    body = opn_request(mode=ua.MessageSecurityMode.SignAndEncrypt)
    (req,) = conn.c(secure_chunk(b"OPN", b"F", asym(), 1, 1, body, channel=0))
    assert req.fields["flags"] == ["security_mode_policy_mismatch"]


def test_read_request_and_response_pairing() -> None:
    conn = Conn()
    conn.none_channel()
    req = ua.ReadRequest()
    req.Parameters.NodesToRead = [
        ua.ReadValueId(NodeId=ua.NodeId("the.answer", 1), AttributeId=13),
        ua.ReadValueId(NodeId=ua.NodeId(2258, 0), AttributeId=13),
        ua.ReadValueId(NodeId=ua.NodeId(85, 0), AttributeId=3),
    ]
    req.RequestHeader.RequestHandle = 77
    (r,) = conn.c(msg(encode(req), 2, 20))
    assert r.action == "read"
    assert r.fields["service_id"] == 631
    assert r.fields["request_id"] == 20
    assert r.fields["request_handle"] == 77
    assert r.fields["nodes"] == ["ns=1;s=the.answer", "i=2258", "i=85"]
    assert r.fields["attributes"] == ["Value", "Value", "BrowseName"]
    assert r.fields["is_response"] is False
    resp = ua.ReadResponse()
    resp.Results = [
        ua.DataValue(ua.Variant(42, ua.VariantType.Int32)),
        ua.DataValue(ua.Variant(2.5, ua.VariantType.Double)),
        ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)),
    ]
    resp.ResponseHeader.RequestHandle = 77
    (s,) = conn.s(msg(encode(resp), 2, 20))
    assert s.action == "read"
    assert s.fields["service"] == "ReadResponse"
    assert s.fields["values"] == [42, 2.5, None]
    assert s.fields["results"] == [0, 0, 0x80340000]
    assert s.fields["matched"] is True
    assert s.fields["request_service"] == "ReadRequest"
    assert s.fields["nodes"] == ["ns=1;s=the.answer", "i=2258", "i=85"]


def test_write_values_and_response_context() -> None:
    conn = Conn()
    conn.none_channel()
    req = ua.WriteRequest()
    req.Parameters.NodesToWrite = [
        ua.WriteValue(NodeId=ua.NodeId("Pump.Speed", 2), AttributeId=13,
                      Value=ua.DataValue(ua.Variant(1500, ua.VariantType.Int32))),
        ua.WriteValue(NodeId=ua.NodeId("Valve.Open", 2), AttributeId=13,
                      Value=ua.DataValue(ua.Variant(True, ua.VariantType.Boolean))),
        ua.WriteValue(NodeId=ua.NodeId("Recipe", 2), AttributeId=13,
                      Value=ua.DataValue(ua.Variant(["a", "b"], ua.VariantType.String))),
    ]
    (w,) = conn.c(msg(encode(req), 2, 21))
    assert w.action == "write"
    assert w.fields["nodes"] == ["ns=2;s=Pump.Speed", "ns=2;s=Valve.Open", "ns=2;s=Recipe"]
    assert w.fields["values"] == [1500, True, ["a", "b"]]
    resp = ua.WriteResponse()
    resp.Results = [ua.StatusCode(0), ua.StatusCode(ua.StatusCodes.BadUserAccessDenied), ua.StatusCode(0)]
    (s,) = conn.s(msg(encode(resp), 2, 21))
    assert s.fields["results"] == [0, 0x801F0000, 0]
    assert s.fields["values"] == [1500, True, ["a", "b"]]  # from the request
    assert s.fields["nodes"][1] == "ns=2;s=Valve.Open"


def test_service_fault_takes_the_action_of_its_request() -> None:
    conn = Conn()
    conn.none_channel()
    req = ua.WriteRequest()
    req.Parameters.NodesToWrite = [ua.WriteValue(NodeId=ua.NodeId(5, 2), AttributeId=13,
                                                 Value=ua.DataValue(ua.Variant(1, ua.VariantType.Int32)))]
    conn.c(msg(encode(req), 2, 30))
    fault = ua.ServiceFault()
    fault.ResponseHeader.ServiceResult = ua.StatusCode(ua.StatusCodes.BadSessionIdInvalid)
    (s,) = conn.s(msg(encode(fault), 2, 30))
    assert s.action == "write"
    assert s.fields["service"] == "ServiceFault"
    assert s.fields["service_id"] == 397
    assert s.fields["status_code"] == 0x80250000
    assert s.fields["status"] == "BadSessionIdInvalid"
    assert s.fields["nodes"] == ["ns=2;i=5"]


def test_unmatched_response_and_unknown_service() -> None:
    conn = Conn()
    conn.none_channel()
    (s,) = conn.s(msg(encode(ua.WriteResponse()), 2, 99))
    assert s.fields["matched"] is False
    body = b"\x01\x00\x39\x30"  # TypeId ns 0, id 12345: not a service
    (u,) = conn.c(msg(body + b"\x00" * 8, 2, 100))
    assert u.action == "unknown_service"
    assert u.fields["service_id"] == 12345
    assert u.fields["service"] == "ServiceId_12345"


def test_pending_requests_are_bounded() -> None:
    conn = Conn()
    conn.none_channel()
    body = encode(ua.PublishRequest())
    flagged = []
    for rid in range(MAX_PENDING + 5):
        (m,) = conn.c(msg(body, 2 + rid, 1000 + rid))
        flagged.append("pending_requests_overflow" in m.fields.get("flags", []))
    assert flagged == [False] * MAX_PENDING + [True] * 5
    assert len(conn.p._pending) == MAX_PENDING
    (oldest,) = conn.s(msg(encode(ua.PublishResponse()), 2, 1000))
    assert oldest.fields["matched"] is False  # evicted
    (newest,) = conn.s(msg(encode(ua.PublishResponse()), 3, 1000 + MAX_PENDING + 4))
    assert newest.fields["matched"] is True


def test_get_endpoints_response_endpoints_and_application() -> None:
    conn = Conn()
    conn.none_channel()
    app = ua.ApplicationDescription(ApplicationUri="urn:plant:plc1", ProductUri="urn:vendor:product",
                                    ApplicationName=ua.LocalizedText("PLC 1", "en"),
                                    ApplicationType=ua.ApplicationType.Server)
    anon = ua.UserTokenPolicy(PolicyId="anon", TokenType=ua.UserTokenType.Anonymous)
    user = ua.UserTokenPolicy(PolicyId="user", TokenType=ua.UserTokenType.UserName,
                              SecurityPolicyUri=B256.decode())
    e1 = ua.EndpointDescription(EndpointUrl="opc.tcp://plc1:4840", Server=app,
                                SecurityMode=ua.MessageSecurityMode.None_, SecurityPolicyUri=NONE.decode(),
                                UserIdentityTokens=[anon, user], SecurityLevel=0,
                                TransportProfileUri="http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary")
    e2 = ua.EndpointDescription(EndpointUrl="opc.tcp://plc1:4840", Server=app, ServerCertificate=b"\x30" * 900,
                                SecurityMode=ua.MessageSecurityMode.SignAndEncrypt,
                                SecurityPolicyUri=B256.decode(), UserIdentityTokens=[user], SecurityLevel=3)
    req = ua.GetEndpointsRequest()
    req.Parameters.EndpointUrl = "opc.tcp://plc1:4840"
    (q,) = conn.c(msg(encode(req), 2, 2))
    assert q.action == "get_endpoints"
    assert q.fields["endpoint_url"] == "opc.tcp://plc1:4840"
    resp = ua.GetEndpointsResponse()
    resp.Endpoints = [e1, e2]
    (s,) = conn.s(msg(encode(resp), 2, 2))
    f = s.fields
    assert f["application_name"] == "PLC 1"
    assert f["application_uri"] == "urn:plant:plc1"
    assert f["product_uri"] == "urn:vendor:product"
    assert f["security_modes"] == ["None", "SignAndEncrypt"]
    assert f["security_policies"] == [NONE.decode(), B256.decode()]
    assert f["user_token_types"] == ["anonymous", "username"]
    assert [e["security_mode"] for e in f["endpoints"]] == ["None", "SignAndEncrypt"]
    assert f["endpoints"][0]["user_token_policies"] == [
        {"policy_id": "anon", "token_type": "anonymous"},
        {"policy_id": "user", "token_type": "username", "security_policy": B256.decode()},
    ]
    assert f["endpoints"][1]["server_certificate_length"] == 900
    assert f["endpoints"][1]["security_level"] == 3
    assert f["endpoints"][0]["application_type"] == "Server"


def test_find_servers_response() -> None:
    conn = Conn()
    conn.none_channel()
    resp = ua.FindServersResponse()
    resp.Servers = [ua.ApplicationDescription(ApplicationUri="urn:a", ProductUri="urn:p",
                                              ApplicationName=ua.LocalizedText("A"),
                                              ApplicationType=ua.ApplicationType.DiscoveryServer,
                                              DiscoveryUrls=["opc.tcp://a:4840"])]
    (s,) = conn.s(msg(encode(resp), 2, 2))
    assert s.action == "find_servers"
    assert s.fields["servers"] == [{"application_uri": "urn:a", "product_uri": "urn:p", "application_name": "A",
                                    "application_type": "DiscoveryServer", "discovery_urls": ["opc.tcp://a:4840"]}]


def test_create_session() -> None:
    conn = Conn()
    conn.none_channel()
    req = ua.CreateSessionRequest()
    p = req.Parameters
    p.ClientDescription = ua.ApplicationDescription(ApplicationUri="urn:hmi", ProductUri="urn:scada",
                                                    ApplicationName=ua.LocalizedText("HMI"),
                                                    ApplicationType=ua.ApplicationType.Client)
    p.EndpointUrl = "opc.tcp://plc1:4840"
    p.SessionName = "hmi-session"
    p.ClientCertificate = b"\x30" * 700
    p.RequestedSessionTimeout = 1200000.0
    p.MaxResponseMessageSize = 2147483647
    (q,) = conn.c(msg(encode(req), 2, 3))
    assert q.action == "create_session"
    assert (q.fields["application_uri"], q.fields["application_name"], q.fields["application_type"]) == (
        "urn:hmi", "HMI", "Client")
    assert q.fields["session_name"] == "hmi-session"
    assert q.fields["client_certificate_present"] is True
    assert q.fields["client_certificate_length"] == 700
    assert q.fields["requested_session_timeout"] == 1200000.0
    resp = ua.CreateSessionResponse()
    r = resp.Parameters
    r.SessionId = ua.NodeId(12, 1)
    r.AuthenticationToken = ua.NodeId(b"\x99" * 16, 0, ua.NodeIdType.ByteString)
    r.RevisedSessionTimeout = 600000.0
    r.ServerCertificate = b""
    r.ServerEndpoints = [ua.EndpointDescription(EndpointUrl="opc.tcp://plc1:4840", SecurityPolicyUri=NONE.decode(),
                                                SecurityMode=ua.MessageSecurityMode.None_,
                                                Server=ua.ApplicationDescription(ApplicationUri="urn:plc1"))]
    r.MaxRequestMessageSize = 4194304
    (s,) = conn.s(msg(encode(resp), 2, 3))
    assert s.fields["session_id"] == "ns=1;i=12"
    assert s.fields["server_certificate_present"] is False
    assert s.fields["revised_session_timeout"] == 600000.0
    assert s.fields["max_request_message_size"] == 4194304
    assert s.fields["application_uri"] == "urn:plc1"
    assert s.fields["session_name"] == "hmi-session"  # from the request
    assert "mZmZ" not in repr(s.fields)  # the authentication token (base64 of 0x99...) is not reported


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (ua.AnonymousIdentityToken(PolicyId="anon"), {"identity_token_type": "anonymous", "identity_policy_id": "anon"}),
        (ua.UserNameIdentityToken(PolicyId="user", UserName="operator", Password=b"s3cr3t-pw"),
         {"identity_token_type": "username", "identity_policy_id": "user", "user_name": "operator",
          "password_encrypted": False}),
        (ua.UserNameIdentityToken(PolicyId="user", UserName="admin", Password=b"s3cr3t-pw" * 20,
                                  EncryptionAlgorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep"),
         {"identity_token_type": "username", "identity_policy_id": "user", "user_name": "admin",
          "password_encrypted": True, "encryption_algorithm": "http://www.w3.org/2001/04/xmlenc#rsa-oaep"}),
        (ua.X509IdentityToken(PolicyId="cert", CertificateData=b"\x30" * 500),
         {"identity_token_type": "x509", "identity_policy_id": "cert", "user_certificate_length": 500}),
        (ua.IssuedIdentityToken(PolicyId="jwt", TokenData=b"s3cr3t-pw"),
         {"identity_token_type": "issued", "identity_policy_id": "jwt", "token_encrypted": False}),
    ],
)
def test_activate_session_identity_token(token, expected: dict) -> None:
    conn = Conn()
    conn.none_channel()
    req = ua.ActivateSessionRequest()
    req.Parameters.UserIdentityToken = token
    (q,) = conn.c(msg(encode(req), 2, 4))
    assert q.action == "activate_session"
    assert {k: q.fields[k] for k in expected} == expected
    assert "s3cr3t" not in repr(q.fields) and "733363723374" not in repr(q.fields)  # never the secret
    resp = ua.ActivateSessionResponse()
    resp.Parameters.ServerNonce = b"\x05" * 32
    resp.ResponseHeader.ServiceResult = ua.StatusCode(ua.StatusCodes.BadUserAccessDenied)
    (s,) = conn.s(msg(encode(resp), 2, 4))
    assert s.fields["status"] == "BadUserAccessDenied"
    assert s.fields["identity_token_type"] == expected["identity_token_type"]
    assert s.fields.get("user_name") == expected.get("user_name")


def test_browse_browse_next_call_close_session() -> None:
    conn = Conn()
    conn.none_channel()
    req = ua.BrowseRequest()
    req.Parameters.NodesToBrowse = [ua.BrowseDescription(NodeId=ua.NodeId(85), BrowseDirection=ua.BrowseDirection.Both)]
    (b,) = conn.c(msg(encode(req), 2, 5))
    assert (b.action, b.fields["nodes"], b.fields["browse_directions"]) == ("browse", ["i=85"], ["Both"])
    resp = ua.BrowseResponse()
    ref = ua.ReferenceDescription(ReferenceTypeId=ua.NodeId(35), IsForward=True, NodeId=ua.ExpandedNodeId(2253),
                                  BrowseName=ua.QualifiedName("Server", 0),
                                  DisplayName=ua.LocalizedText("Server"), NodeClass=ua.NodeClass.Object,
                                  TypeDefinition=ua.ExpandedNodeId(2004))
    resp.Results = [ua.BrowseResult(StatusCode=ua.StatusCode(0), ContinuationPoint=b"\x01", References=[ref])]
    (s,) = conn.s(msg(encode(resp), 2, 5))
    assert s.fields["references"] == [{"node": "i=2253", "browse_name": "Server", "display_name": "Server",
                                       "node_class": "Object", "type_definition": "i=2004"}]
    nxt = ua.BrowseNextRequest()
    nxt.Parameters.ContinuationPoints = [b"\x01"]
    (n,) = conn.c(msg(encode(nxt), 3, 6))
    assert (n.action, n.fields["continuation_points"]) == ("browse_next", 1)
    call = ua.CallRequest()
    call.Parameters.MethodsToCall = [ua.CallMethodRequest(ObjectId=ua.NodeId(85), MethodId=ua.NodeId(62541, 1),
                                                          InputArguments=[ua.Variant("Hello", ua.VariantType.String)])]
    (c,) = conn.c(msg(encode(call), 4, 7))
    assert c.action == "call"
    assert c.fields["calls"] == [{"object_id": "i=85", "method_id": "ns=1;i=62541", "input_arguments": ["Hello"]}]
    cresp = ua.CallResponse()
    cresp.Results = [ua.CallMethodResult(StatusCode=ua.StatusCode(0),
                                         OutputArguments=[ua.Variant(3, ua.VariantType.UInt16)])]
    (cr,) = conn.s(msg(encode(cresp), 3, 7))
    assert (cr.fields["results"], cr.fields["output_arguments"], cr.fields["method_ids"]) == ([0], [[3]], ["ns=1;i=62541"])
    close = ua.CloseSessionRequest()
    close.DeleteSubscriptions = True
    (cl,) = conn.c(msg(encode(close), 5, 8))
    assert (cl.action, cl.fields["delete_subscriptions"]) == ("close_session", True)


def test_subscription_services() -> None:
    conn = Conn()
    conn.none_channel()
    sub = ua.CreateSubscriptionRequest()
    sub.Parameters.RequestedPublishingInterval = 250.0
    sub.Parameters.PublishingEnabled = True
    (q,) = conn.c(msg(encode(sub), 2, 2))
    assert (q.action, q.fields["requested_publishing_interval"], q.fields["publishing_enabled"]) == (
        "create_subscription", 250.0, True)
    sresp = ua.CreateSubscriptionResponse()
    sresp.Parameters.SubscriptionId = 17
    (s,) = conn.s(msg(encode(sresp), 2, 2))
    assert s.fields["subscription_id"] == 17
    mon = ua.CreateMonitoredItemsRequest()
    mon.Parameters.SubscriptionId = 17
    item = ua.MonitoredItemCreateRequest()
    item.ItemToMonitor = ua.ReadValueId(NodeId=ua.NodeId("Temp", 2), AttributeId=13)
    item.MonitoringMode = ua.MonitoringMode.Reporting
    item.RequestedParameters.SamplingInterval = 100.0
    mon.Parameters.ItemsToCreate = [item]
    (m,) = conn.c(msg(encode(mon), 3, 3))
    assert (m.fields["subscription_id"], m.fields["nodes"], m.fields["monitoring_modes"]) == (
        17, ["ns=2;s=Temp"], ["Reporting"])
    mresp = ua.CreateMonitoredItemsResponse()
    mresp.Results = [ua.MonitoredItemCreateResult(StatusCode=ua.StatusCode(0), MonitoredItemId=5)]
    (mr,) = conn.s(msg(encode(mresp), 3, 3))
    assert (mr.fields["monitored_item_ids"], mr.fields["nodes"]) == ([5], ["ns=2;s=Temp"])
    pub = ua.PublishResponse()
    pub.Parameters.SubscriptionId = 17
    pub.Parameters.NotificationMessage.SequenceNumber = 4
    pub.Parameters.NotificationMessage.NotificationData = [ua.DataChangeNotification(MonitoredItems=[
        ua.MonitoredItemNotification(ClientHandle=9, Value=ua.DataValue(ua.Variant(21.5, ua.VariantType.Double)))])]
    (p,) = conn.s(msg(encode(pub), 4, 50))
    assert (p.action, p.fields["values"], p.fields["client_handles"], p.fields["notifications"]) == (
        "publish", [21.5], [9], 1)
    dele = ua.DeleteMonitoredItemsRequest()
    dele.Parameters.SubscriptionId = 17
    dele.Parameters.MonitoredItemIds = [5, 6]
    (d,) = conn.c(msg(encode(dele), 4, 4))
    assert (d.action, d.fields["monitored_item_ids"]) == ("delete_monitored_items", [5, 6])


def write_body() -> bytes:
    req = ua.WriteRequest()
    req.Parameters.NodesToWrite = [
        ua.WriteValue(NodeId=ua.NodeId(f"Tag{i}", 2), AttributeId=13,
                      Value=ua.DataValue(ua.Variant(i, ua.VariantType.Int32))) for i in range(20)
    ]
    return encode(req)


def test_message_reassembled_from_three_chunks() -> None:
    conn = Conn()
    conn.none_channel()
    body = write_body()
    a, b = len(body) // 3, 2 * len(body) // 3
    assert conn.c(msg(body[:a], 2, 40, b"C")) == []
    assert conn.c(msg(body[a:b], 3, 40, b"C")) == []
    (w,) = conn.c(msg(body[b:], 4, 40, b"F"))
    assert w.fields["chunks"] == 3
    assert w.fields["values"] == list(range(20))
    assert w.fields["request_id"] == 40
    assert conn.p._reasm[1].partials == {}


def test_interleaved_chunks_of_two_requests() -> None:
    conn = Conn()
    conn.none_channel()
    one, two = write_body(), encode(ua.ReadRequest())
    conn.c(msg(one[:50], 2, 41, b"C"))
    conn.c(msg(two[:10], 3, 42, b"C"))
    (r,) = conn.c(msg(two[10:], 4, 42))
    (w,) = conn.c(msg(one[50:], 5, 41))
    assert (r.action, r.fields["chunks"], w.action, w.fields["chunks"]) == ("read", 2, "write", 2)


def test_abort_chunk_discards_the_partial_message() -> None:
    conn = Conn()
    conn.none_channel()
    body = write_body()
    conn.c(msg(body[:60], 2, 43, b"C"))
    abort = u32(0x80B80000) + string(b"too large")  # Error BadRequestTooLarge, Reason
    (a,) = conn.c(msg(abort, 3, 43, b"A"))
    assert a.action == "abort"
    assert (a.fields["status"], a.fields["reason"], a.fields["service_id"], a.fields["chunks"]) == (
        "BadRequestTooLarge", "too large", 673, 2)
    assert conn.p._reasm[1].partials == {}
    (w,) = conn.c(msg(body, 4, 44))
    assert "chunks" not in w.fields


def ack(max_message: int, max_chunks: int) -> bytes:
    return (b"ACKF" + u32(28) + u32(0) + u32(65536) + u32(65536)  # header, version, buffers
            + u32(max_message) + u32(max_chunks))  # MaxMessageSize, MaxChunkCount


def test_negotiated_chunk_count_bounds_reassembly() -> None:
    conn = Conn()
    conn.s(ack(0, 3))  # the server accepts messages of at most 3 chunks
    conn.none_channel()
    body = write_body()
    out = []
    for i in range(5):
        out += conn.c(msg(body[i * 10 : i * 10 + 10], 2 + i, 45, b"C"))
    assert len(out) == 1
    assert out[0].action == "write"
    assert out[0].fields["flags"] == ["too_many_chunks"]
    assert len(conn.p._reasm[1].partials) <= 1


def test_negotiated_message_size_bounds_reassembly() -> None:
    conn = Conn()
    conn.s(ack(100, 0))
    conn.none_channel()
    body = write_body()
    out = conn.c(msg(body[:60], 2, 46, b"C")) + conn.c(msg(body[60:120], 3, 46, b"C"))
    assert [m.fields["flags"] for m in out] == [["message_too_large"]]
    assert conn.p._reasm[1].partials == {}


def test_hard_cap_without_negotiated_limit() -> None:
    conn = Conn()
    conn.none_channel()
    piece = b"\x00" * (1 << 20)
    out = []
    for i in range(MAX_MESSAGE // len(piece) + 2):
        out += conn.c(msg(piece, 2 + i, 47, b"C"))
    assert [m.fields["flags"] for m in out] == [["message_too_large"]]
    assert MAX_CHUNKS >= 2


def test_sequence_number_jump_is_flagged() -> None:
    conn = Conn()
    conn.none_channel()
    body = encode(ua.PublishRequest())
    (a,) = conn.c(msg(body, 2, 2))
    (b,) = conn.c(msg(body, 9, 3))
    (c,) = conn.c(msg(body, 10, 4))
    assert "flags" not in a.fields and "flags" not in c.fields
    assert b.fields["flags"] == ["sequence_number_jump"]


def encrypted_channel(conn: Conn) -> None:
    cert = b"\x30\x82" + noise(998)
    (o,) = conn.c(secure_chunk(b"OPN", b"F", asym(B256, cert, b"\x11" * 20), 0, 0, noise(256), channel=0))
    assert o.fields["encrypted"] is True and o.fields["protected"] is True
    assert o.fields["security_policy"] == B256.decode()
    assert o.fields["sender_certificate_length"] == 1000
    assert o.fields["receiver_thumbprint_length"] == 20
    assert "request_id" not in o.fields and "service" not in o.fields
    (r,) = conn.s(secure_chunk(b"OPN", b"F", asym(B256, cert, b"\x22" * 20), 0, 0, noise(256)))
    assert r.action == "open_secure_channel"


def test_sign_and_encrypt_messages_are_marked_not_decoded() -> None:
    conn = Conn()
    encrypted_channel(conn)
    # MSG header, SecureChannelId, TokenId, then 112 bytes of ciphertext (whole AES blocks)
    (m,) = conn.c(b"MSGF" + u32(16 + 112) + u32(CHANNEL) + u32(1) + noise(112))
    assert m.action == "protected_message"
    assert (m.fields["encrypted"], m.fields["protected"], m.fields["security_mode"]) == (True, True, "SignAndEncrypt")
    assert m.fields["security_policy"] == B256.decode()
    assert "request_id" not in m.fields


def test_encrypted_chunks_make_one_event_per_message() -> None:
    conn = Conn()
    encrypted_channel(conn)
    head = b"MSG" + b"C" + u32(16 + 96) + u32(CHANNEL) + u32(1)
    final = b"MSG" + b"F" + u32(16 + 96) + u32(CHANNEL) + u32(1)
    out = conn.c(head + noise(96)) + conn.c(head + noise(96)) + conn.c(final + noise(96))
    assert [(m.action, m.fields["chunks"]) for m in out] == [("protected_message", 3)]


def test_sign_mode_is_established_and_the_body_decoded_without_signature() -> None:
    conn = Conn()
    encrypted_channel(conn)
    req = ua.ReadRequest()
    req.Parameters.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId(2258), AttributeId=13)]
    signature = noise(32)  # HMAC-SHA256 of Basic256Sha256
    (m,) = conn.c(msg(encode(req), 5, 5, trailer=signature))
    assert (m.action, m.fields["nodes"], m.fields["security_mode"]) == ("read", ["i=2258"], "Sign")
    assert (m.fields["encrypted"], m.fields["protected"]) == (False, True)
    body = write_body()
    conn.c(msg(body[:40], 6, 6, b"C", trailer=noise(32)))
    (w,) = conn.c(msg(body[40:], 7, 6, b"F", trailer=noise(32)))
    assert w.fields["values"] == list(range(20))  # signatures stripped from each chunk


def test_mid_stream_messages_in_clear_are_decoded_others_left_undecided() -> None:
    conn = Conn()
    (m,) = conn.c(msg(encode(ua.ReadRequest()), 100, 50))
    assert m.action == "read"
    assert "security_mode" not in m.fields and "protected" not in m.fields
    (u,) = conn.c(b"MSGF" + u32(16 + 48) + u32(CHANNEL) + u32(1) + noise(48))
    assert u.action == "unknown_service"
    assert u.fields["decoded"] is False
    assert "encrypted" not in u.fields


def test_close_secure_channel() -> None:
    conn = Conn()
    conn.none_channel()
    (c,) = conn.c(secure_chunk(b"CLO", b"F", u32(7), 9, 9, encode(ua.CloseSecureChannelRequest())))
    assert (c.action, c.fields["message_type"], c.fields["service_id"]) == ("close_secure_channel", "CLO", 452)
    assert conn.p._pending == {}


def test_malformed_body_keeps_the_service_and_is_counted() -> None:
    conn = Conn()
    conn.none_channel()
    body = encode(ua.ReadRequest())[:12]  # TypeId and part of the RequestHeader
    (m,) = conn.c(msg(body, 2, 2))
    assert (m.action, m.fields["service_id"], m.fields["flags"]) == ("read", 631, ["malformed_body"])
    assert [e.reason for e in conn.p.errors] == ["truncated"]


def test_resync_after_gap_skips_a_fake_header_of_an_unknown_channel() -> None:
    conn = Conn()
    conn.none_channel()
    publish = encode(ua.PublishRequest())
    first = msg(publish, 2, 2)
    fake = b"MSGF" + u32(24) + u32(999) + u32(1) + u32(1) + u32(1)  # a header naming channel 999
    decoy = msg(b"\x01\x00\x3a\x03" + fake, 3, 3)  # a body that contains the fake header
    after = [msg(publish, 4 + i, 4 + i) for i in range(3)]
    conn.c(first)
    conn.p.gap(True)
    out = conn.c(decoy[20:] + b"".join(after))
    assert [m.fields["request_id"] for m in out] == [4, 5, 6]
    assert all("flags" not in m.fields for m in out)


def truncated(message: bytes, cut: int) -> bytes:
    """The first ``cut`` bytes of a chunk, with MessageSize saying so."""
    return message[:4] + u32(cut) + message[8:cut]


@pytest.mark.parametrize("kind", ["OPN", "MSG"])
def test_truncation_at_each_field_boundary(kind: str) -> None:
    if kind == "OPN":
        full = secure_chunk(b"OPN", b"F", asym(), 1, 1, opn_request(), channel=0)
        header = 8 + 4 + len(asym()) + 8  # up to the end of the sequence header
    else:
        req = ua.ReadRequest()
        req.Parameters.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId("the.answer", 1), AttributeId=13)]
        full = msg(encode(req), 2, 2)
        header = 24
    for cut in range(24 if kind == "MSG" else 32, len(full)):
        conn = Conn()
        if kind == "MSG":
            conn.none_channel()
        out = conn.c(truncated(full, cut))
        if cut < header:
            assert out == [] and conn.p.errors, cut  # a security or sequence header cut short
            continue
        (m,) = out
        assert m.fields["flags"] == ["malformed_body"], cut
        assert conn.p.errors[0].reason in ("truncated", "bad_length"), cut
    (m,) = Conn().c(full)
    assert "flags" not in m.fields


def test_depth_bomb_in_a_write_request() -> None:
    conn = Conn()
    conn.none_channel()
    head = encode(ua.WriteRequest())[:-4]  # TypeId + RequestHeader, without the empty NodesToWrite
    bomb = (u32(1)  # NodesToWrite: one WriteValue
            + b"\x00\x55" + u32(13) + string(None)  # NodeId i=85, AttributeId 13, IndexRange null
            + b"\x01" + b"\x18" * 100_000 + b"\x00")  # DataValue: Value = Variant in Variant ... 100000 deep
    (m,) = conn.c(msg(head + bomb, 2, 2))
    assert (m.action, m.fields["flags"]) == ("write", ["malformed_body"])
    assert [e.reason for e in conn.p.errors] == ["too_deep"]


def test_hostile_array_count_in_a_read_request() -> None:
    conn = Conn()
    conn.none_channel()
    head = encode(ua.ReadRequest())[:-4]  # everything but the NodesToRead count
    (m,) = conn.c(msg(head + b"\xff\xff\xff\x7f" + b"\x00" * 32, 2, 2))  # 2^31-1 ReadValueIds in 32 bytes
    assert m.fields["flags"] == ["malformed_body"]
    assert [e.reason for e in conn.p.errors] == ["bad_length"]
