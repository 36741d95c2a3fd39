//! Service bodies (discovery, sessions, View/Attribute/Method, subscriptions) on hand-labelled
//! byte vectors, read on a channel picked up mid-stream (services in clear are recognised by
//! their encoding id). Expected values: what `parsers/opcua` answers for the same bytes.

mod common;

use common::*;

/// The fields every message below starts with: channel 3, token 1.
fn head(seq: u32, request: u32) -> String {
    format!(
        r#"{{"message_type":"MSG","secure_channel_id":3,"token_id":1,"encrypted":false,"sequence_number":{seq},"request_id":{request},"#
    )
}

fn msg(seq: u32, request: u32, body: &[u8]) -> Vec<u8> {
    symmetric(b"MSGF", 3, 1, seq, request, body)
}

const UA_TCP: &str = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary";

#[test]
fn get_endpoints() {
    let mut flow = Flow::new();
    let request = cat(&[
        &type_id(428), // GetEndpointsRequest
        &request_header(1),
        &string("opc.tcp://plc:4840"), // EndpointUrl
        &NULL,                         // LocaleIds: null
        &NULL,                         // ProfileUris: null
    ]);
    let (action, fields) = flow.one(&msg(1, 1, &request), true);
    assert_eq!(action, "get_endpoints");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":428,"service":"GetEndpointsRequest","is_response":false,"request_handle":1,"timeout_hint":1000,"endpoint_url":"opc.tcp://plc:4840"}}"#,
            head(1, 1)
        )
    );
    let response = cat(&[
        &type_id(431), // GetEndpointsResponse
        &response_header(1, 0),
        &u32le(1),                     // Endpoints count
        &string("opc.tcp://plc:4840"), // EndpointUrl
        &string("urn:plc"),            // Server.ApplicationUri
        &string("urn:vendor:plc"),     // Server.ProductUri
        &[0x02],                       // Server.ApplicationName: LocalizedText, text only
        &string("PLC"),                //   text
        &u32le(0),                     // Server.ApplicationType: Server
        &NULL,                         // Server.GatewayServerUri
        &NULL,                         // Server.DiscoveryProfileUri
        &NULL,                         // Server.DiscoveryUrls
        &NULL,                         // ServerCertificate: null
        &u32le(1),                     // SecurityMode: None
        &string(POLICY_NONE),          // SecurityPolicyUri
        &u32le(2),                     // UserIdentityTokens count
        &string("anon"),               //   PolicyId
        &u32le(0),                     //   TokenType: Anonymous
        &NULL,                         //   IssuedTokenType
        &NULL,                         //   IssuerEndpointUrl
        &NULL,                         //   SecurityPolicyUri
        &string("user"),               //   PolicyId
        &u32le(1),                     //   TokenType: UserName
        &NULL,                         //   IssuedTokenType
        &NULL,                         //   IssuerEndpointUrl
        &string(POLICY_B256),          //   SecurityPolicyUri
        &string(UA_TCP),               // TransportProfileUri
        &[0x00],                       // SecurityLevel
    ]);
    let (action, fields) = flow.one(&msg(1, 1, &response), false);
    assert_eq!(action, "get_endpoints");
    let endpoint = format!(
        r#"{{"endpoint_url":"opc.tcp://plc:4840","security_policy":"{{NONE}}","security_mode":"None","security_level":0,"user_token_types":["anonymous","username"],"user_token_policies":[{{"policy_id":"anon","token_type":"anonymous"}},{{"policy_id":"user","token_type":"username","security_policy":"{{B256}}"}}],"transport_profile_uri":"{UA_TCP}","server_certificate_length":0,"application_name":"PLC","application_uri":"urn:plc","product_uri":"urn:vendor:plc","application_type":"Server"}}"#
    );
    assert_eq!(
        fields,
        json(&format!(
            r#"{}"service_id":431,"service":"GetEndpointsResponse","is_response":true,"request_handle":1,"status_code":0,"status":"Good","endpoints":[{endpoint}],"application_name":"PLC","application_uri":"urn:plc","product_uri":"urn:vendor:plc","security_policies":["{{NONE}}"],"security_modes":["None"],"user_token_types":["anonymous","username"],"matched":true,"request_service":"GetEndpointsRequest","endpoint_url":"opc.tcp://plc:4840"}}"#,
            head(1, 1)
        ))
    );
}

#[test]
fn create_session() {
    let request = cat(&[
        &type_id(461), // CreateSessionRequest
        &request_header(2),
        &string("urn:hmi"),            // ClientDescription.ApplicationUri
        &string("urn:vendor:hmi"),     // ClientDescription.ProductUri
        &[0x03],                       // ClientDescription.ApplicationName: locale and text
        &string("en"),                 //   locale
        &string("HMI"),                //   text
        &u32le(1),                     // ClientDescription.ApplicationType: Client
        &NULL,                         // ClientDescription.GatewayServerUri
        &NULL,                         // ClientDescription.DiscoveryProfileUri
        &NULL,                         // ClientDescription.DiscoveryUrls
        &string("urn:plc"),            // ServerUri
        &string("opc.tcp://plc:4840"), // EndpointUrl
        &string("session1"),           // SessionName
        &bytestring(&[0x11; 32]),      // ClientNonce: 32 bytes
        &NULL,                         // ClientCertificate: null
        &f64le(1_200_000.0),           // RequestedSessionTimeout
        &u32le(0),                     // MaxResponseMessageSize
    ]);
    let (action, fields) = Flow::new().one(&msg(2, 2, &request), true);
    assert_eq!(action, "create_session");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":461,"service":"CreateSessionRequest","is_response":false,"request_handle":2,"timeout_hint":1000,"application_name":"HMI","application_uri":"urn:hmi","product_uri":"urn:vendor:hmi","application_type":"Client","server_uri":"urn:plc","endpoint_url":"opc.tcp://plc:4840","session_name":"session1","client_nonce_length":32,"client_certificate_present":false,"client_certificate_length":0,"requested_session_timeout":1200000.0,"max_response_message_size":0}}"#,
            head(2, 2)
        )
    );
}

#[test]
fn activate_session_with_user_name() {
    let token = cat(&[
        &string("user"),     // PolicyId
        &string("operator"), // UserName
        &string("secret"),   // Password (a ByteString: never reported)
        &NULL,               // EncryptionAlgorithm: null (password in clear)
    ]);
    let request = cat(&[
        &type_id(467), // ActivateSessionRequest
        &request_header(3),
        &NULL,               // ClientSignature.Algorithm
        &NULL,               // ClientSignature.Signature
        &NULL,               // ClientSoftwareCertificates
        &u32le(1),           // LocaleIds count
        &string("en"),       //   "en"
        &type_id(324),       // UserIdentityToken type: UserNameIdentityToken
        &[0x01],             //   encoding: ByteString body
        &bytestring(&token), //   body
        &NULL,               // UserTokenSignature.Algorithm
        &NULL,               // UserTokenSignature.Signature
    ]);
    let (action, fields) = Flow::new().one(&msg(3, 3, &request), true);
    assert_eq!(action, "activate_session");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":467,"service":"ActivateSessionRequest","is_response":false,"request_handle":3,"timeout_hint":1000,"locale_ids":["en"],"identity_token_type":"username","identity_policy_id":"user","user_name":"operator","password_encrypted":false}}"#,
            head(3, 3)
        )
    );
}

#[test]
fn browse() {
    let request = cat(&[
        &type_id(527), // BrowseRequest
        &request_header(4),
        &[0x00, 0x00], // View.ViewId: i=0
        &[0; 8],       // View.Timestamp
        &u32le(0),     // View.ViewVersion
        &u32le(100),   // RequestedMaxReferencesPerNode
        &u32le(1),     // NodesToBrowse count
        &[0x00, 0x55], //   NodeId: i=85 (Objects)
        &u32le(0),     //   BrowseDirection: Forward
        &[0x00, 0x21], //   ReferenceTypeId: i=33
        &[0x01],       //   IncludeSubtypes
        &u32le(0),     //   NodeClassMask
        &u32le(63),    //   ResultMask
    ]);
    let (action, fields) = Flow::new().one(&msg(4, 4, &request), true);
    assert_eq!(action, "browse");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":527,"service":"BrowseRequest","is_response":false,"request_handle":4,"timeout_hint":1000,"nodes":["i=85"],"node_count":1,"browse_directions":["Forward"],"requested_max_references":100}}"#,
            head(4, 4)
        )
    );
}

#[test]
fn call() {
    let request = cat(&[
        &type_id(712), // CallRequest
        &request_header(5),
        &u32le(1),                 // MethodsToCall count
        &[0x01, 0x02, 0x01, 0x00], //   ObjectId: ns=2 i=1
        &[0x01, 0x02, 0x02, 0x00], //   MethodId: ns=2 i=2
        &u32le(1),                 //   InputArguments count
        &[0x06],                   //     Variant Int32
        &u32le(7),                 //     7
    ]);
    let (action, fields) = Flow::new().one(&msg(5, 5, &request), true);
    assert_eq!(action, "call");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":712,"service":"CallRequest","is_response":false,"request_handle":5,"timeout_hint":1000,"calls":[{{"object_id":"ns=2;i=1","method_id":"ns=2;i=2","input_arguments":[7]}}],"object_ids":["ns=2;i=1"],"method_ids":["ns=2;i=2"],"nodes":["ns=2;i=2"],"node_count":1}}"#,
            head(5, 5)
        )
    );
}

#[test]
fn create_subscription() {
    let request = cat(&[
        &type_id(787), // CreateSubscriptionRequest
        &request_header(6),
        &f64le(500.0), // RequestedPublishingInterval
        &u32le(600),   // RequestedLifetimeCount
        &u32le(20),    // RequestedMaxKeepAliveCount
        &u32le(0),     // MaxNotificationsPerPublish
        &[0x01],       // PublishingEnabled
        &[0x00],       // Priority
    ]);
    let (action, fields) = Flow::new().one(&msg(6, 6, &request), true);
    assert_eq!(action, "create_subscription");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":787,"service":"CreateSubscriptionRequest","is_response":false,"request_handle":6,"timeout_hint":1000,"requested_publishing_interval":500.0,"requested_lifetime_count":600,"requested_max_keep_alive_count":20,"max_notifications_per_publish":0,"publishing_enabled":true,"priority":0}}"#,
            head(6, 6)
        )
    );
}

#[test]
fn publish_data_change() {
    let notification = cat(&[
        &u32le(1),     // MonitoredItems count
        &u32le(5),     //   ClientHandle
        &[0x01, 0x0b], //   DataValue mask Value; Variant Double
        &f64le(21.5),  //     21.5
        &NULL,         // DiagnosticInfos: null
    ]);
    let response = cat(&[
        &type_id(829), // PublishResponse
        &response_header(7, 0),
        &u32le(1),                  // SubscriptionId
        &NULL,                      // AvailableSequenceNumbers: null
        &[0x00],                    // MoreNotifications: false
        &u32le(3),                  // NotificationMessage.SequenceNumber
        &[0; 8],                    // NotificationMessage.PublishTime: none
        &u32le(1),                  // NotificationData count
        &type_id(811),              //   type: DataChangeNotification
        &[0x01],                    //   encoding: ByteString body
        &bytestring(&notification), //  body
        &NULL,                      // Results: null
        &NULL,                      // DiagnosticInfos: null
    ]);
    let (action, fields) = Flow::new().one(&msg(7, 7, &response), false);
    assert_eq!(action, "publish");
    assert_eq!(
        fields,
        format!(
            r#"{}"service_id":829,"service":"PublishResponse","is_response":true,"request_handle":7,"status_code":0,"status":"Good","subscription_id":1,"more_notifications":false,"notification_sequence_number":3,"publish_time":null,"notifications":1,"values":[21.5],"client_handles":[5],"results":[],"matched":false}}"#,
            head(7, 7)
        )
    );
}

#[test]
fn unknown_and_non_numeric_service_ids() {
    let mut flow = Flow::new();
    // after the sequence header: a numeric NodeId that is no service (ns=0 i=70000)
    let (action, fields) = flow.one(
        &msg(1, 1, &[0x02, 0x00, 0x00, 0x70, 0x11, 0x01, 0x00]),
        true,
    );
    assert_eq!(action, "unknown_service");
    assert_eq!(
        fields,
        r#"{"message_type":"MSG","secure_channel_id":3,"token_id":1,"decoded":false}"#
    );
    // once the channel is open under policy None, the same body is read
    let opn = asymmetric(
        b"OPNF",
        3,
        POLICY_NONE,
        b"",
        b"",
        &cat(&[&type_id(449), &[0; 4]]),
    );
    flow.one(&opn, false);
    // (its body is cut after the type id: the response header is missing)
    assert_eq!(
        flow.errors(),
        [("truncated".into(), "16 bytes at offset 83, 4 left".into())]
    );
    let (action, fields) = flow.one(
        &msg(2, 2, &[0x02, 0x00, 0x00, 0x70, 0x11, 0x01, 0x00]),
        true,
    );
    assert_eq!(action, "unknown_service");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"MSG","secure_channel_id":3,"token_id":1,"security_policy":"{NONE}","security_mode":"None","encrypted":false,"protected":false,"sequence_number":2,"request_id":2,"service_id":70000,"service":"ServiceId_70000"}"#
        )
    );
    // a string NodeId names no service
    let (action, fields) = flow.one(&msg(3, 3, &cat(&[&[0x03, 0x00, 0x00], &string("x")])), true);
    assert_eq!(action, "unknown_service");
    assert!(
        fields.ends_with(r#""request_id":3,"service":"ServiceId_non_numeric"}"#),
        "{fields}"
    );
}
