"""Service bodies of subscriptions and monitored items (OPC 10000-4 5.12, 5.13).

| service              | request fields                                  | response fields                    |
|----------------------|-------------------------------------------------|------------------------------------|
| CreateSubscription   | RequestedPublishingInterval, LifetimeCount,     | SubscriptionId, Revised interval,  |
|                      | MaxKeepAliveCount, MaxNotificationsPerPublish,  | lifetime and keep-alive counts     |
|                      | PublishingEnabled, Priority                     |                                    |
| CreateMonitoredItems | SubscriptionId, TimestampsToReturn, ItemsToCreate| Results: (StatusCode,             |
|                      | (ReadValueId, MonitoringMode, Parameters:       | MonitoredItemId, Revised sampling, |
|                      | ClientHandle, SamplingInterval, Filter,         | queue size, FilterResult)[],       |
|                      | QueueSize, DiscardOldest)[]                     | DiagnosticInfos[]                  |
| DeleteMonitoredItems | SubscriptionId, MonitoredItemIds[]              | Results[], DiagnosticInfos[]       |
| DeleteSubscriptions  | SubscriptionIds[]                               | Results[], DiagnosticInfos[]       |
| Publish              | SubscriptionAcknowledgements (SubscriptionId,   | SubscriptionId, AvailableSequence  |
|                      | SequenceNumber)[]                               | Numbers[], MoreNotifications,      |
|                      |                                                 | NotificationMessage, Results[], ...|

NotificationMessage: SequenceNumber, PublishTime, NotificationData ExtensionObject[]; the data
changes (DataChangeNotification: MonitoredItems (ClientHandle, DataValue)[], DiagnosticInfos[]) are
decoded into ``values``; event lists and status changes are counted.
"""

from __future__ import annotations

from typing import Any

from parsers.opcua.ids import (
    ATTRIBUTES,
    DATA_CHANGE_NOTIFICATION,
    EVENT_NOTIFICATION_LIST,
    MONITORING_MODES,
    STATUS_CHANGE_NOTIFICATION,
    TIMESTAMPS_TO_RETURN,
    enum_text,
)
from parsers.opcua.nodes import read_value_id
from parsers.opcua.statuscodes import status_name
from parsers.opcua.types import MAX_ITEMS, Reader

Fields = dict[str, Any]

_MIN_CREATE_ITEM = 40  # ReadValueId 16, UInt32, UInt32, Double, ExtensionObject 3, UInt32, Boolean
_MIN_CREATE_RESULT = 23  # StatusCode, UInt32, Double, UInt32, ExtensionObject 3
_MIN_EXTENSION_OBJECT = 3


def create_subscription_request(r: Reader) -> Fields:
    return {
        "requested_publishing_interval": r.f64(),
        "requested_lifetime_count": r.u32(),
        "requested_max_keep_alive_count": r.u32(),
        "max_notifications_per_publish": r.u32(),
        "publishing_enabled": r.boolean(),
        "priority": r.u8(),
    }


def create_subscription_response(r: Reader) -> Fields:
    return {
        "subscription_id": r.u32(),
        "revised_publishing_interval": r.f64(),
        "revised_lifetime_count": r.u32(),
        "revised_max_keep_alive_count": r.u32(),
    }


def create_monitored_items_request(r: Reader) -> Fields:
    subscription = r.u32()
    timestamps = r.u32()
    n = r.array_length(_MIN_CREATE_ITEM)
    nodes: list[str] = []
    attributes: list[int] = []
    modes: list[str] = []
    intervals: list[float] = []
    for i in range(n):
        node, attribute, _ = read_value_id(r)
        mode = r.u32()
        r.u32()  # ClientHandle
        interval = r.f64()
        r.extension_object()  # Filter
        r.skip(5)  # QueueSize, DiscardOldest
        if i < MAX_ITEMS:
            nodes.append(node)
            attributes.append(attribute)
            modes.append(enum_text(MONITORING_MODES, mode))
            intervals.append(interval)
    return {
        "subscription_id": subscription,
        "timestamps_to_return": enum_text(TIMESTAMPS_TO_RETURN, timestamps),
        "nodes": nodes,
        "node_count": n,
        "attribute_ids": attributes,
        "attributes": [enum_text(ATTRIBUTES, a) for a in attributes],
        "monitoring_modes": modes,
        "sampling_intervals": intervals,
    }


def create_monitored_items_response(r: Reader) -> Fields:
    statuses: list[int] = []
    item_ids: list[int] = []
    for i in range(r.array_length(_MIN_CREATE_RESULT)):
        status = r.u32()
        item = r.u32()
        r.skip(12)  # RevisedSamplingInterval, RevisedQueueSize
        r.extension_object()  # FilterResult
        if i < MAX_ITEMS:
            statuses.append(status)
            item_ids.append(item)
    out: Fields = {"results": statuses, "monitored_item_ids": item_ids}
    _diags(r, out)
    return out


def delete_monitored_items_request(r: Reader) -> Fields:
    return {"subscription_id": r.u32(), "monitored_item_ids": r.u32_array()}


def delete_subscriptions_request(r: Reader) -> Fields:
    return {"subscription_ids": r.u32_array()}


def results_response(r: Reader) -> Fields:
    """Responses made of Results (StatusCode[]) and DiagnosticInfos[] only."""
    out: Fields = {"results": r.status_array()}
    _diags(r, out)
    return out


def publish_request(r: Reader) -> Fields:
    acks: list[Fields] = []
    n = r.array_length(8)
    for i in range(n):
        subscription = r.u32()
        seq = r.u32()
        if i < MAX_ITEMS:
            acks.append({"subscription_id": subscription, "sequence_number": seq})
    return {"acknowledgements": acks}


def publish_response(r: Reader) -> Fields:
    out: Fields = {"subscription_id": r.u32()}
    r.u32_array()  # AvailableSequenceNumbers
    out["more_notifications"] = r.boolean()
    out["notification_sequence_number"] = r.u32()
    out["publish_time"] = r.date_time()
    values: list[Any] = []
    handles: list[int] = []
    events = 0
    count = 0
    for _ in range(r.array_length(_MIN_EXTENSION_OBJECT)):
        type_id, _, start, end = r.extension_object()
        count += 1
        if start == end:
            continue
        body = r.sub(start, end)
        if type_id == DATA_CHANGE_NOTIFICATION:
            for _ in range(body.array_length(5)):  # MonitoredItemNotification: ClientHandle, DataValue
                handle = body.u32()
                value, _ = body.value_and_status()
                if len(values) < MAX_ITEMS:
                    handles.append(handle)
                    values.append(value)
        elif type_id == EVENT_NOTIFICATION_LIST:
            events += body.array_length(8)  # EventFieldList: ClientHandle, EventFields[]
        elif type_id == STATUS_CHANGE_NOTIFICATION:
            code = body.u32()
            out["status_change"] = status_name(code)
            out["status_change_code"] = code
    out["notifications"] = count
    if values:
        out["values"] = values
        out["client_handles"] = handles
    if events:
        out["event_count"] = events
    out["results"] = r.status_array()
    _diags(r, out)
    return out


def _diags(r: Reader, out: Fields) -> None:
    diags = r.diagnostic_infos()
    if diags:
        out["diagnostic_infos"] = diags
