//! Service bodies for discovery, secure channels and sessions (OPC 10000-4 5.4 to 5.6; port of
//! `parsers/opcua/discovery.py`).
//!
//! | service           | request fields                               | response fields             |
//! |-------------------|----------------------------------------------|-----------------------------|
//! | OpenSecureChannel | ClientProtocolVersion, RequestType,          | ServerProtocolVersion,      |
//! |                   | SecurityMode, ClientNonce, RequestedLifetime | SecurityToken (ChannelId,   |
//! |                   |                                              | TokenId, CreatedAt,         |
//! |                   |                                              | RevisedLifetime), ServerNonce|
//! | FindServers       | EndpointUrl, LocaleIds[], ServerUris[]       | ApplicationDescription[]    |
//! | GetEndpoints      | EndpointUrl, LocaleIds[], ProfileUris[]      | EndpointDescription[]       |
//! | CreateSession     | ClientDescription, ServerUri, EndpointUrl,   | SessionId, AuthToken,       |
//! |                   | SessionName, ClientNonce, ClientCertificate, | RevisedSessionTimeout,      |
//! |                   | RequestedSessionTimeout, MaxResponseSize     | ServerNonce, ServerCert,    |
//! |                   |                                              | ServerEndpoints, ...        |
//! | ActivateSession   | ClientSignature, SoftwareCertificates,       | ServerNonce, Results[],     |
//! |                   | LocaleIds, UserIdentityToken, TokenSignature | DiagnosticInfos[]           |
//! | CloseSession      | DeleteSubscriptions                          | (header only)               |
//!
//! The session AuthenticationToken and the user's password are secrets: never reported. Only
//! the facts an auditor needs are: whether a password was encrypted, which token type was used.

use icssa_core::{Decoded, Map, Text, Value};
use icssa_opcua_codec::ids::{
    enum_text, APPLICATION_TYPES, IDENTITY_TOKENS, SECURITY_MODES, TOKEN_REQUEST_TYPES,
    USER_TOKEN_TYPES,
};
use icssa_opcua_codec::types::{Reader, MAX_ITEMS};

// smallest encodings, to bound array counts: UserTokenPolicy (4 Strings + UInt32),
// ApplicationDescription (3 Strings, LocalizedText mask, UInt32, 2 Strings, String array),
// EndpointDescription
const MIN_APPLICATION: usize = 25;
const MIN_TOKEN_POLICY: usize = 20;
const MIN_ENDPOINT: usize = 50;

/// `list(dict.fromkeys(...))`: appends `v` unless already there.
fn push_unique(list: &mut Vec<Value>, v: Value) {
    if !list.contains(&v) {
        list.push(v);
    }
}

fn strings(list: Vec<Option<String>>) -> Value {
    Value::from(list)
}

/// An ApplicationDescription.
struct Application {
    uri: Option<String>,
    product: Option<String>,
    name: Option<String>,
    app_type: Text,
    urls: Vec<Option<String>>,
}

impl Application {
    fn read(r: &mut Reader) -> Decoded<Self> {
        let uri = r.string()?;
        let product = r.string()?;
        let (_, name) = r.localized_text()?;
        let app_type = r.u32()?;
        r.string()?; // GatewayServerUri
        r.string()?; // DiscoveryProfileUri
        let urls = r.string_array()?;
        Ok(Application {
            uri,
            product,
            name,
            app_type: enum_text(&APPLICATION_TYPES, app_type),
            urls,
        })
    }

    fn into_map(self) -> Map {
        let mut out = Map::with_capacity(5);
        out.push("application_uri", self.uri);
        out.push("product_uri", self.product);
        out.push("application_name", self.name);
        out.push("application_type", self.app_type);
        if !self.urls.is_empty() {
            out.push("discovery_urls", strings(self.urls));
        }
        out
    }
}

/// A UserTokenPolicy: its map and its token type.
fn user_token_policy(r: &mut Reader) -> Decoded<(Map, Text)> {
    let policy_id = r.string()?;
    let token_type = enum_text(&USER_TOKEN_TYPES, r.u32()?);
    let issued_type = r.string()?;
    r.string()?; // IssuerEndpointUrl
    let policy = r.string()?;
    let mut out = Map::with_capacity(4);
    out.push("policy_id", policy_id);
    out.push("token_type", token_type.clone());
    if let Some(issued) = issued_type.filter(|s| !s.is_empty()) {
        out.push("issued_token_type", issued);
    }
    if let Some(policy) = policy.filter(|s| !s.is_empty()) {
        out.push("security_policy", policy);
    }
    Ok((out, token_type))
}

/// An EndpointDescription, with what `endpoints` summarises kept apart.
struct Endpoint {
    url: Option<String>,
    app: Application,
    cert_len: i32,
    mode: Text,
    policy: Option<String>,
    policies: Vec<Value>,
    token_types: Vec<Value>,
    transport: Option<String>,
    level: u8,
}

impl Endpoint {
    fn read(r: &mut Reader) -> Decoded<Self> {
        let url = r.string()?;
        let app = Application::read(r)?;
        let cert_len = r.bytestring_length()?;
        let mode = enum_text(&SECURITY_MODES, r.u32()?);
        let policy = r.string()?;
        let mut policies = Vec::new();
        let mut token_types = Vec::new();
        for i in 0..r.array_length(MIN_TOKEN_POLICY)? {
            let (p, token_type) = user_token_policy(r)?;
            push_unique(&mut token_types, Value::Str(token_type));
            if i < MAX_ITEMS {
                policies.push(Value::Map(p));
            }
        }
        let transport = r.string()?;
        let level = r.u8()?;
        Ok(Endpoint {
            url,
            app,
            cert_len,
            mode,
            policy,
            policies,
            token_types,
            transport,
            level,
        })
    }

    fn to_map(&self) -> Map {
        let mut out = Map::with_capacity(12);
        out.push("endpoint_url", self.url.clone());
        out.push("security_policy", self.policy.clone());
        out.push("security_mode", self.mode.clone());
        out.push("security_level", self.level);
        out.push("user_token_types", self.token_types.clone());
        out.push("user_token_policies", self.policies.clone());
        out.push("transport_profile_uri", self.transport.clone());
        out.push("server_certificate_length", self.cert_len.max(0));
        out.push("application_name", self.app.name.clone());
        out.push("application_uri", self.app.uri.clone());
        out.push("product_uri", self.app.product.clone());
        out.push("application_type", self.app.app_type.clone());
        out
    }
}

/// Decodes an EndpointDescription array into `out["endpoints"]` plus summary lists, and the
/// sender's own application identity from the first endpoint.
fn endpoints(r: &mut Reader, out: &mut Map) -> Decoded {
    let mut list = Vec::new();
    for i in 0..r.array_length(MIN_ENDPOINT)? {
        let e = Endpoint::read(r)?;
        if i < MAX_ITEMS {
            list.push(e);
        }
    }
    out.push(
        "endpoints",
        list.iter()
            .map(|e| Value::Map(e.to_map()))
            .collect::<Vec<_>>(),
    );
    let Some(first) = list.first() else {
        return Ok(());
    };
    out.push("application_name", first.app.name.clone());
    out.push("application_uri", first.app.uri.clone());
    out.push("product_uri", first.app.product.clone());
    let (mut policies, mut modes, mut token_types) = (Vec::new(), Vec::new(), Vec::new());
    for e in &list {
        push_unique(&mut policies, Value::from(e.policy.clone()));
        push_unique(&mut modes, Value::Str(e.mode.clone()));
        for t in &e.token_types {
            push_unique(&mut token_types, t.clone());
        }
    }
    out.push("security_policies", policies);
    out.push("security_modes", modes);
    out.push("user_token_types", token_types);
    Ok(())
}

pub fn open_secure_channel_request(r: &mut Reader) -> Decoded<Map> {
    let version = r.u32()?;
    let request_type = r.u32()?;
    let mode = r.u32()?;
    let nonce = r.bytestring_length()?;
    let lifetime = r.u32()?;
    let mut out = Map::with_capacity(5);
    out.push("client_protocol_version", version);
    out.push(
        "request_type",
        enum_text(&TOKEN_REQUEST_TYPES, request_type),
    );
    out.push("security_mode", enum_text(&SECURITY_MODES, mode));
    out.push("client_nonce_length", nonce.max(0));
    out.push("requested_lifetime", lifetime);
    Ok(out)
}

pub fn open_secure_channel_response(r: &mut Reader) -> Decoded<Map> {
    let version = r.u32()?;
    let channel_id = r.u32()?;
    let token_id = r.u32()?;
    let created = r.date_time()?;
    let lifetime = r.u32()?;
    let nonce = r.bytestring_length()?;
    let mut out = Map::with_capacity(6);
    out.push("server_protocol_version", version);
    out.push("token_channel_id", channel_id);
    out.push("token_id", token_id);
    out.push("token_created_at", created);
    out.push("revised_lifetime", lifetime);
    out.push("server_nonce_length", nonce.max(0));
    Ok(out)
}

/// GetEndpoints and FindServers requests: EndpointUrl, LocaleIds[], then `key` (a String array).
fn url_locales(r: &mut Reader, key: &'static str) -> Decoded<Map> {
    let mut out = Map::with_capacity(3);
    out.push("endpoint_url", r.string()?);
    let locales = r.string_array()?;
    let other = r.string_array()?;
    if !locales.is_empty() {
        out.push("locale_ids", strings(locales));
    }
    if !other.is_empty() {
        out.push(key, strings(other));
    }
    Ok(out)
}

pub fn get_endpoints_request(r: &mut Reader) -> Decoded<Map> {
    url_locales(r, "profile_uris")
}

pub fn get_endpoints_response(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(7);
    endpoints(r, &mut out)?;
    Ok(out)
}

pub fn find_servers_request(r: &mut Reader) -> Decoded<Map> {
    url_locales(r, "server_uris")
}

pub fn find_servers_response(r: &mut Reader) -> Decoded<Map> {
    let mut servers = Vec::new();
    for i in 0..r.array_length(MIN_APPLICATION)? {
        let s = Application::read(r)?;
        if i < MAX_ITEMS {
            servers.push(Value::Map(s.into_map()));
        }
    }
    let mut out = Map::with_capacity(1);
    out.push("servers", servers);
    Ok(out)
}

pub fn create_session_request(r: &mut Reader) -> Decoded<Map> {
    let client = Application::read(r)?;
    let mut out = Map::with_capacity(12);
    out.push("application_name", client.name);
    out.push("application_uri", client.uri);
    out.push("product_uri", client.product);
    out.push("application_type", client.app_type);
    out.push("server_uri", r.string()?);
    out.push("endpoint_url", r.string()?);
    out.push("session_name", r.string()?);
    out.push("client_nonce_length", r.bytestring_length()?.max(0));
    let cert = r.bytestring_length()?;
    out.push("client_certificate_present", cert > 0);
    out.push("client_certificate_length", cert.max(0));
    out.push("requested_session_timeout", r.f64()?);
    out.push("max_response_message_size", r.u32()?);
    Ok(out)
}

pub fn create_session_response(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(16);
    out.push("session_id", r.node_id()?);
    r.skip_node_id()?; // AuthenticationToken: a session secret, never reported
    out.push("revised_session_timeout", r.f64()?);
    out.push("server_nonce_length", r.bytestring_length()?.max(0));
    let cert = r.bytestring_length()?;
    out.push("server_certificate_present", cert > 0);
    out.push("server_certificate_length", cert.max(0));
    endpoints(r, &mut out)?;
    for _ in 0..r.array_length(8)? {
        // SignedSoftwareCertificate: CertificateData, Signature
        r.bytestring_length()?;
        r.bytestring_length()?;
    }
    let algorithm = r.string()?; // ServerSignature: Algorithm, Signature
    r.bytestring_length()?;
    if let Some(algorithm) = algorithm.filter(|s| !s.is_empty()) {
        out.push("server_signature_algorithm", algorithm);
    }
    out.push("max_request_message_size", r.u32()?);
    Ok(out)
}

fn identity_token(r: &mut Reader, out: &mut Map) -> Decoded {
    let (type_id, type_text, start, end) = r.extension_object()?;
    let kind = type_id.and_then(|t| IDENTITY_TOKENS.get(t));
    out.push("identity_token_type", kind.unwrap_or("unknown"));
    if kind.is_none() {
        out.push("identity_token_type_id", type_text);
    }
    if start == end {
        return Ok(());
    }
    let mut t = r.sub(start, end)?;
    out.push("identity_policy_id", t.string()?);
    match kind {
        Some("username") => {
            out.push("user_name", t.string()?);
            t.bytestring_length()?; // Password: never read, never reported
            let algorithm = t.string()?.filter(|s| !s.is_empty());
            out.push("password_encrypted", algorithm.is_some());
            if let Some(algorithm) = algorithm {
                out.push("encryption_algorithm", algorithm);
            }
        }
        Some("x509") => out.push("user_certificate_length", t.bytestring_length()?.max(0)),
        Some("issued") => {
            t.bytestring_length()?; // TokenData: a secret
            let algorithm = t.string()?.filter(|s| !s.is_empty());
            out.push("token_encrypted", algorithm.is_some());
            if let Some(algorithm) = algorithm {
                out.push("encryption_algorithm", algorithm);
            }
        }
        _ => {}
    }
    Ok(())
}

pub fn activate_session_request(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(8);
    let algorithm = r.string()?; // ClientSignature: Algorithm, Signature
    r.bytestring_length()?;
    if let Some(algorithm) = algorithm.filter(|s| !s.is_empty()) {
        out.push("client_signature_algorithm", algorithm);
    }
    for _ in 0..r.array_length(8)? {
        // ClientSoftwareCertificates
        r.bytestring_length()?;
        r.bytestring_length()?;
    }
    let locales = r.string_array()?;
    if !locales.is_empty() {
        out.push("locale_ids", strings(locales));
    }
    identity_token(r, &mut out)?;
    r.string()?; // UserTokenSignature: Algorithm, Signature
    r.bytestring_length()?;
    Ok(out)
}

pub fn activate_session_response(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(3);
    out.push("server_nonce_length", r.bytestring_length()?.max(0));
    let results = r.status_array()?;
    if !results.is_empty() {
        out.push("results", results);
    }
    let diags = r.diagnostic_infos()?;
    if !diags.is_empty() {
        out.push("diagnostic_infos", diags);
    }
    Ok(out)
}

pub fn close_session_request(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(1);
    out.push("delete_subscriptions", r.boolean()?);
    Ok(out)
}
