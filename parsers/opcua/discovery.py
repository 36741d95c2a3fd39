"""Service bodies for discovery, secure channels and sessions (OPC 10000-4 5.4 to 5.6).

| service                   | request fields                               | response fields                      |
|---------------------------|----------------------------------------------|--------------------------------------|
| OpenSecureChannel         | ClientProtocolVersion, RequestType,          | ServerProtocolVersion, SecurityToken |
|                           | SecurityMode, ClientNonce, RequestedLifetime | (ChannelId, TokenId, CreatedAt,      |
|                           |                                              | RevisedLifetime), ServerNonce        |
| FindServers               | EndpointUrl, LocaleIds[], ServerUris[]       | Servers: ApplicationDescription[]    |
| GetEndpoints              | EndpointUrl, LocaleIds[], ProfileUris[]      | Endpoints: EndpointDescription[]     |
| CreateSession             | ClientDescription, ServerUri, EndpointUrl,   | SessionId, AuthenticationToken,      |
|                           | SessionName, ClientNonce, ClientCertificate, | RevisedSessionTimeout, ServerNonce,  |
|                           | RequestedSessionTimeout, MaxResponseSize     | ServerCertificate, ServerEndpoints,  |
|                           |                                              | SoftwareCertificates, Signature, ... |
| ActivateSession           | ClientSignature, SoftwareCertificates,       | ServerNonce, Results[],              |
|                           | LocaleIds, UserIdentityToken, TokenSignature | DiagnosticInfos[]                    |
| CloseSession              | DeleteSubscriptions                          | (header only)                        |

The session AuthenticationToken and the user's password are secrets: never reported. Only the
facts an auditor needs are: whether a password was encrypted, which token type was used.
"""

from __future__ import annotations

from typing import Any

from parsers.opcua.ids import (
    APPLICATION_TYPES,
    IDENTITY_TOKENS,
    SECURITY_MODES,
    TOKEN_REQUEST_TYPES,
    USER_TOKEN_TYPES,
    enum_text,
)
from parsers.opcua.types import MAX_ITEMS, Reader

Fields = dict[str, Any]

# smallest encodings, to bound array counts: ApplicationDescription (3 Strings, LocalizedText mask,
# UInt32, 2 Strings, String array), UserTokenPolicy (4 Strings + UInt32), EndpointDescription
_MIN_APPLICATION = 25
_MIN_TOKEN_POLICY = 20
_MIN_ENDPOINT = 50


def application_description(r: Reader) -> Fields:
    uri = r.string()
    product = r.string()
    _, name = r.localized_text()
    app_type = r.u32()
    r.string()  # GatewayServerUri
    r.string()  # DiscoveryProfileUri
    urls = r.string_array()
    out: Fields = {
        "application_uri": uri,
        "product_uri": product,
        "application_name": name,
        "application_type": enum_text(APPLICATION_TYPES, app_type),
    }
    if urls:
        out["discovery_urls"] = urls
    return out


def _user_token_policy(r: Reader) -> Fields:
    policy_id = r.string()
    token_type = r.u32()
    issued_type = r.string()
    r.string()  # IssuerEndpointUrl
    policy = r.string()
    out: Fields = {"policy_id": policy_id, "token_type": enum_text(USER_TOKEN_TYPES, token_type)}
    if issued_type:
        out["issued_token_type"] = issued_type
    if policy:
        out["security_policy"] = policy
    return out


def endpoint_description(r: Reader) -> Fields:
    url = r.string()
    app = application_description(r)
    cert_len = r.bytestring_length()
    mode = r.u32()
    policy = r.string()
    policies = [_user_token_policy(r) for _ in range(r.array_length(_MIN_TOKEN_POLICY))]
    transport = r.string()
    level = r.u8()
    token_types = list(dict.fromkeys(p["token_type"] for p in policies))
    out: Fields = {
        "endpoint_url": url,
        "security_policy": policy,
        "security_mode": enum_text(SECURITY_MODES, mode),
        "security_level": level,
        "user_token_types": token_types,
        "user_token_policies": policies[:MAX_ITEMS],
        "transport_profile_uri": transport,
        "server_certificate_length": max(cert_len, 0),
    }
    for key in ("application_name", "application_uri", "product_uri", "application_type"):
        out[key] = app[key]
    return out


def _endpoints(r: Reader, out: Fields, key: str = "endpoints") -> None:
    """Decode an EndpointDescription array into ``out[key]`` plus summary lists, and the sender's
    own application identity from the first endpoint."""
    endpoints = []
    for i in range(r.array_length(_MIN_ENDPOINT)):
        e = endpoint_description(r)
        if i < MAX_ITEMS:
            endpoints.append(e)
    out[key] = endpoints
    if endpoints:
        first = endpoints[0]
        for k in ("application_name", "application_uri", "product_uri"):
            out[k] = first[k]
        out["security_policies"] = list(dict.fromkeys(e["security_policy"] for e in endpoints))
        out["security_modes"] = list(dict.fromkeys(e["security_mode"] for e in endpoints))
        out["user_token_types"] = list(dict.fromkeys(t for e in endpoints for t in e["user_token_types"]))


def open_secure_channel_request(r: Reader) -> Fields:
    version = r.u32()
    request_type = r.u32()
    mode = r.u32()
    nonce = r.bytestring_length()
    lifetime = r.u32()
    return {
        "client_protocol_version": version,
        "request_type": enum_text(TOKEN_REQUEST_TYPES, request_type),
        "security_mode": enum_text(SECURITY_MODES, mode),
        "client_nonce_length": max(nonce, 0),
        "requested_lifetime": lifetime,
    }


def open_secure_channel_response(r: Reader) -> Fields:
    version = r.u32()
    channel_id = r.u32()
    token_id = r.u32()
    created = r.date_time()
    lifetime = r.u32()
    nonce = r.bytestring_length()
    return {
        "server_protocol_version": version,
        "token_channel_id": channel_id,
        "token_id": token_id,
        "token_created_at": created,
        "revised_lifetime": lifetime,
        "server_nonce_length": max(nonce, 0),
    }


def get_endpoints_request(r: Reader) -> Fields:
    out: Fields = {"endpoint_url": r.string()}
    locales = r.string_array()
    profiles = r.string_array()
    if locales:
        out["locale_ids"] = locales
    if profiles:
        out["profile_uris"] = profiles
    return out


def get_endpoints_response(r: Reader) -> Fields:
    out: Fields = {}
    _endpoints(r, out)
    return out


def find_servers_request(r: Reader) -> Fields:
    out: Fields = {"endpoint_url": r.string()}
    locales = r.string_array()
    servers = r.string_array()
    if locales:
        out["locale_ids"] = locales
    if servers:
        out["server_uris"] = servers
    return out


def find_servers_response(r: Reader) -> Fields:
    servers = []
    for i in range(r.array_length(_MIN_APPLICATION)):
        s = application_description(r)
        if i < MAX_ITEMS:
            servers.append(s)
    return {"servers": servers}


def create_session_request(r: Reader) -> Fields:
    client = application_description(r)
    out: Fields = {
        "application_name": client["application_name"],
        "application_uri": client["application_uri"],
        "product_uri": client["product_uri"],
        "application_type": client["application_type"],
    }
    out["server_uri"] = r.string()
    out["endpoint_url"] = r.string()
    out["session_name"] = r.string()
    out["client_nonce_length"] = max(r.bytestring_length(), 0)
    cert = r.bytestring_length()
    out["client_certificate_present"] = cert > 0
    out["client_certificate_length"] = max(cert, 0)
    out["requested_session_timeout"] = r.f64()
    out["max_response_message_size"] = r.u32()
    return out


def create_session_response(r: Reader) -> Fields:
    out: Fields = {"session_id": r.node_id()}
    r.skip_node_id()  # AuthenticationToken: a session secret, never reported
    out["revised_session_timeout"] = r.f64()
    out["server_nonce_length"] = max(r.bytestring_length(), 0)
    cert = r.bytestring_length()
    out["server_certificate_present"] = cert > 0
    out["server_certificate_length"] = max(cert, 0)
    _endpoints(r, out)
    for _ in range(r.array_length(8)):  # SignedSoftwareCertificate: CertificateData, Signature
        r.bytestring_length()
        r.bytestring_length()
    algorithm = r.string()  # ServerSignature: Algorithm, Signature
    r.bytestring_length()
    if algorithm:
        out["server_signature_algorithm"] = algorithm
    out["max_request_message_size"] = r.u32()
    return out


def _identity_token(r: Reader, out: Fields) -> None:
    type_id, type_text, start, end = r.extension_object()
    kind = IDENTITY_TOKENS.get(type_id) if type_id is not None else None
    out["identity_token_type"] = kind or "unknown"
    if kind is None:
        out["identity_token_type_id"] = type_text
    if start == end:
        return
    t = r.sub(start, end)
    out["identity_policy_id"] = t.string()
    if kind == "username":
        out["user_name"] = t.string()
        t.bytestring_length()  # Password: never read, never reported
        algorithm = t.string()
        out["password_encrypted"] = bool(algorithm)
        if algorithm:
            out["encryption_algorithm"] = algorithm
    elif kind == "x509":
        out["user_certificate_length"] = max(t.bytestring_length(), 0)
    elif kind == "issued":
        t.bytestring_length()  # TokenData: a secret
        algorithm = t.string()
        out["token_encrypted"] = bool(algorithm)
        if algorithm:
            out["encryption_algorithm"] = algorithm


def activate_session_request(r: Reader) -> Fields:
    out: Fields = {}
    algorithm = r.string()  # ClientSignature: Algorithm, Signature
    r.bytestring_length()
    if algorithm:
        out["client_signature_algorithm"] = algorithm
    for _ in range(r.array_length(8)):  # ClientSoftwareCertificates
        r.bytestring_length()
        r.bytestring_length()
    locales = r.string_array()
    if locales:
        out["locale_ids"] = locales
    _identity_token(r, out)
    r.string()  # UserTokenSignature: Algorithm, Signature
    r.bytestring_length()
    return out


def activate_session_response(r: Reader) -> Fields:
    out: Fields = {"server_nonce_length": max(r.bytestring_length(), 0)}
    results = r.status_array()
    if results:
        out["results"] = results
    diags = r.diagnostic_infos()
    if diags:
        out["diagnostic_infos"] = diags
    return out


def close_session_request(r: Reader) -> Fields:
    return {"delete_subscriptions": r.boolean()}
