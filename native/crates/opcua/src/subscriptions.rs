//! Service bodies of subscriptions and monitored items (OPC 10000-4 5.12, 5.13; port of
//! `parsers/opcua/subscriptions.py`).
//!
//! | service              | request fields                          | response fields            |
//! |----------------------|-----------------------------------------|----------------------------|
//! | CreateSubscription   | RequestedPublishingInterval,            | SubscriptionId, Revised    |
//! |                      | LifetimeCount, MaxKeepAliveCount,       | interval, lifetime and     |
//! |                      | MaxNotificationsPerPublish,             | keep-alive counts          |
//! |                      | PublishingEnabled, Priority             |                            |
//! | CreateMonitoredItems | SubscriptionId, TimestampsToReturn,     | Results: (StatusCode,      |
//! |                      | ItemsToCreate (ReadValueId,             | MonitoredItemId, Revised   |
//! |                      | MonitoringMode, Parameters:             | sampling, queue size,      |
//! |                      | ClientHandle, SamplingInterval, Filter, | FilterResult)[],           |
//! |                      | QueueSize, DiscardOldest)[]             | DiagnosticInfos[]          |
//! | DeleteMonitoredItems | SubscriptionId, MonitoredItemIds[]      | Results[], DiagnosticInfos |
//! | DeleteSubscriptions  | SubscriptionIds[]                       | Results[], DiagnosticInfos |
//! | Publish              | SubscriptionAcknowledgements            | SubscriptionId, Available  |
//! |                      | (SubscriptionId, SequenceNumber)[]      | SequenceNumbers[], More-   |
//! |                      |                                         | Notifications, Notification|
//! |                      |                                         | Message, Results[], ...    |
//!
//! NotificationMessage: SequenceNumber, PublishTime, NotificationData ExtensionObject[]; the data
//! changes (DataChangeNotification: MonitoredItems (ClientHandle, DataValue)[], DiagnosticInfos[])
//! are decoded into `values`; event lists and status changes are counted.

use icssa_core::{Decoded, Map, Value};
use icssa_opcua_codec::ids::{
    enum_text, ATTRIBUTES, DATA_CHANGE_NOTIFICATION, EVENT_NOTIFICATION_LIST, MONITORING_MODES,
    STATUS_CHANGE_NOTIFICATION, TIMESTAMPS_TO_RETURN,
};
use icssa_opcua_codec::nodes::read_value_id;
use icssa_opcua_codec::statuscodes::status_name;
use icssa_opcua_codec::types::{Reader, MAX_ITEMS};

/// ReadValueId 16, UInt32, UInt32, Double, ExtensionObject 3, UInt32, Boolean
const MIN_CREATE_ITEM: usize = 40;
/// StatusCode, UInt32, Double, UInt32, ExtensionObject 3
const MIN_CREATE_RESULT: usize = 23;
const MIN_EXTENSION_OBJECT: usize = 3;

pub fn create_subscription_request(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(6);
    out.push("requested_publishing_interval", r.f64()?);
    out.push("requested_lifetime_count", r.u32()?);
    out.push("requested_max_keep_alive_count", r.u32()?);
    out.push("max_notifications_per_publish", r.u32()?);
    out.push("publishing_enabled", r.boolean()?);
    out.push("priority", r.u8()?);
    Ok(out)
}

pub fn create_subscription_response(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(4);
    out.push("subscription_id", r.u32()?);
    out.push("revised_publishing_interval", r.f64()?);
    out.push("revised_lifetime_count", r.u32()?);
    out.push("revised_max_keep_alive_count", r.u32()?);
    Ok(out)
}

pub fn create_monitored_items_request(r: &mut Reader) -> Decoded<Map> {
    let subscription = r.u32()?;
    let timestamps = r.u32()?;
    let n = r.array_length(MIN_CREATE_ITEM)?;
    let k = n.min(MAX_ITEMS);
    let mut nodes = Vec::with_capacity(k);
    let mut attributes = Vec::with_capacity(k);
    let mut names = Vec::with_capacity(k);
    let mut modes = Vec::with_capacity(k);
    let mut intervals = Vec::with_capacity(k);
    for i in 0..n {
        let (node, attribute, _) = read_value_id(r)?;
        let mode = r.u32()?;
        r.u32()?; // ClientHandle
        let interval = r.f64()?;
        r.extension_object()?; // Filter
        r.skip(5)?; // QueueSize, DiscardOldest
        if i < MAX_ITEMS {
            nodes.push(Value::Str(node));
            attributes.push(Value::from(attribute));
            names.push(Value::Str(enum_text(&ATTRIBUTES, attribute)));
            modes.push(Value::Str(enum_text(&MONITORING_MODES, mode)));
            intervals.push(Value::Float(interval));
        }
    }
    let mut out = Map::with_capacity(8);
    out.push("subscription_id", subscription);
    out.push(
        "timestamps_to_return",
        enum_text(&TIMESTAMPS_TO_RETURN, timestamps),
    );
    out.push("nodes", nodes);
    out.push("node_count", n);
    out.push("attribute_ids", attributes);
    out.push("attributes", names);
    out.push("monitoring_modes", modes);
    out.push("sampling_intervals", intervals);
    Ok(out)
}

pub fn create_monitored_items_response(r: &mut Reader) -> Decoded<Map> {
    let mut statuses = Vec::new();
    let mut item_ids = Vec::new();
    for i in 0..r.array_length(MIN_CREATE_RESULT)? {
        let status = r.u32()?;
        let item = r.u32()?;
        r.skip(12)?; // RevisedSamplingInterval, RevisedQueueSize
        r.extension_object()?; // FilterResult
        if i < MAX_ITEMS {
            statuses.push(status);
            item_ids.push(item);
        }
    }
    let mut out = Map::with_capacity(3);
    out.push("results", statuses);
    out.push("monitored_item_ids", item_ids);
    diags(r, &mut out)?;
    Ok(out)
}

pub fn delete_monitored_items_request(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(2);
    out.push("subscription_id", r.u32()?);
    out.push("monitored_item_ids", r.u32_array()?);
    Ok(out)
}

pub fn delete_subscriptions_request(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(1);
    out.push("subscription_ids", r.u32_array()?);
    Ok(out)
}

/// Responses made of Results (StatusCode[]) and DiagnosticInfos[] only.
pub fn results_response(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(2);
    out.push("results", r.status_array()?);
    diags(r, &mut out)?;
    Ok(out)
}

pub fn publish_request(r: &mut Reader) -> Decoded<Map> {
    let n = r.array_length(8)?;
    let mut acks = Vec::with_capacity(n.min(MAX_ITEMS));
    for i in 0..n {
        let subscription = r.u32()?;
        let seq = r.u32()?;
        if i < MAX_ITEMS {
            let mut ack = Map::with_capacity(2);
            ack.push("subscription_id", subscription);
            ack.push("sequence_number", seq);
            acks.push(Value::Map(ack));
        }
    }
    let mut out = Map::with_capacity(1);
    out.push("acknowledgements", acks);
    Ok(out)
}

pub fn publish_response(r: &mut Reader) -> Decoded<Map> {
    let mut out = Map::with_capacity(12);
    out.push("subscription_id", r.u32()?);
    r.u32_array()?; // AvailableSequenceNumbers
    out.push("more_notifications", r.boolean()?);
    out.push("notification_sequence_number", r.u32()?);
    out.push("publish_time", r.date_time()?);
    let mut values = Vec::new();
    let mut handles = Vec::new();
    let mut events: u64 = 0;
    let mut count: u64 = 0;
    for _ in 0..r.array_length(MIN_EXTENSION_OBJECT)? {
        let (type_id, _, start, end) = r.extension_object()?;
        count += 1;
        if start == end {
            continue;
        }
        let mut body = r.sub(start, end)?;
        match type_id {
            Some(DATA_CHANGE_NOTIFICATION) => {
                // MonitoredItemNotification: ClientHandle, DataValue
                for _ in 0..body.array_length(5)? {
                    let handle = body.u32()?;
                    let (value, _) = body.value_and_status()?;
                    if values.len() < MAX_ITEMS {
                        handles.push(handle);
                        values.push(value);
                    }
                }
            }
            Some(EVENT_NOTIFICATION_LIST) => {
                // EventFieldList: ClientHandle, EventFields[]
                events += body.array_length(8)? as u64;
            }
            Some(STATUS_CHANGE_NOTIFICATION) => {
                let code = body.u32()?;
                out.set("status_change", status_name(code));
                out.set("status_change_code", code);
            }
            _ => {}
        }
    }
    out.push("notifications", count);
    if !values.is_empty() {
        out.push("values", values);
        out.push("client_handles", handles);
    }
    if events != 0 {
        out.push("event_count", events);
    }
    out.push("results", r.status_array()?);
    diags(r, &mut out)?;
    Ok(out)
}

fn diags(r: &mut Reader, out: &mut Map) -> Decoded {
    let diags = r.diagnostic_infos()?;
    if !diags.is_empty() {
        out.push("diagnostic_infos", diags);
    }
    Ok(())
}
