"""Numeric identifiers of OPC UA (OPC 10000-6 NodeIds.csv, OPC 10000-4 enumerations) as data.

``SERVICES`` maps the encoding NodeId of every standard service message (the ``TypeId`` that
precedes a service body, namespace 0, e.g. 631 ReadRequest_Encoding_DefaultBinary) to its name.
"""

from __future__ import annotations

import re

SERVICES: dict[int, str] = {
    397: "ServiceFault",
    410: "TestStackRequest",
    413: "TestStackResponse",
    416: "TestStackExRequest",
    419: "TestStackExResponse",
    422: "FindServersRequest",
    425: "FindServersResponse",
    428: "GetEndpointsRequest",
    431: "GetEndpointsResponse",
    437: "RegisterServerRequest",
    440: "RegisterServerResponse",
    446: "OpenSecureChannelRequest",
    449: "OpenSecureChannelResponse",
    452: "CloseSecureChannelRequest",
    455: "CloseSecureChannelResponse",
    461: "CreateSessionRequest",
    464: "CreateSessionResponse",
    467: "ActivateSessionRequest",
    470: "ActivateSessionResponse",
    473: "CloseSessionRequest",
    476: "CloseSessionResponse",
    479: "CancelRequest",
    482: "CancelResponse",
    488: "AddNodesRequest",
    491: "AddNodesResponse",
    494: "AddReferencesRequest",
    497: "AddReferencesResponse",
    500: "DeleteNodesRequest",
    503: "DeleteNodesResponse",
    506: "DeleteReferencesRequest",
    509: "DeleteReferencesResponse",
    527: "BrowseRequest",
    530: "BrowseResponse",
    533: "BrowseNextRequest",
    536: "BrowseNextResponse",
    554: "TranslateBrowsePathsToNodeIdsRequest",
    557: "TranslateBrowsePathsToNodeIdsResponse",
    560: "RegisterNodesRequest",
    563: "RegisterNodesResponse",
    566: "UnregisterNodesRequest",
    569: "UnregisterNodesResponse",
    615: "QueryFirstRequest",
    618: "QueryFirstResponse",
    621: "QueryNextRequest",
    624: "QueryNextResponse",
    631: "ReadRequest",
    634: "ReadResponse",
    664: "HistoryReadRequest",
    667: "HistoryReadResponse",
    673: "WriteRequest",
    676: "WriteResponse",
    700: "HistoryUpdateRequest",
    703: "HistoryUpdateResponse",
    712: "CallRequest",
    715: "CallResponse",
    751: "CreateMonitoredItemsRequest",
    754: "CreateMonitoredItemsResponse",
    763: "ModifyMonitoredItemsRequest",
    766: "ModifyMonitoredItemsResponse",
    769: "SetMonitoringModeRequest",
    772: "SetMonitoringModeResponse",
    775: "SetTriggeringRequest",
    778: "SetTriggeringResponse",
    781: "DeleteMonitoredItemsRequest",
    784: "DeleteMonitoredItemsResponse",
    787: "CreateSubscriptionRequest",
    790: "CreateSubscriptionResponse",
    793: "ModifySubscriptionRequest",
    796: "ModifySubscriptionResponse",
    799: "SetPublishingModeRequest",
    802: "SetPublishingModeResponse",
    826: "PublishRequest",
    829: "PublishResponse",
    832: "RepublishRequest",
    835: "RepublishResponse",
    841: "TransferSubscriptionsRequest",
    844: "TransferSubscriptionsResponse",
    847: "DeleteSubscriptionsRequest",
    850: "DeleteSubscriptionsResponse",
    12208: "FindServersOnNetworkRequest",
    12209: "FindServersOnNetworkResponse",
    12211: "RegisterServer2Request",
    12212: "RegisterServer2Response",
}

#: ExtensionObject encoding ids of the user identity tokens (ActivateSession)
IDENTITY_TOKENS: dict[int, str] = {
    321: "anonymous",  # AnonymousIdentityToken
    324: "username",  # UserNameIdentityToken
    327: "x509",  # X509IdentityToken
    940: "issued",  # IssuedIdentityToken
}

#: ExtensionObject encoding ids inside PublishResponse.NotificationMessage.NotificationData
DATA_CHANGE_NOTIFICATION = 811
EVENT_NOTIFICATION_LIST = 916
STATUS_CHANGE_NOTIFICATION = 820

#: MessageSecurityMode (OPC 10000-4 7.20)
SECURITY_MODES: dict[int, str] = {0: "Invalid", 1: "None", 2: "Sign", 3: "SignAndEncrypt"}

#: UserTokenType (OPC 10000-4 7.42), with the identity token names used in events
USER_TOKEN_TYPES: dict[int, str] = {0: "anonymous", 1: "username", 2: "x509", 3: "issued"}

#: ApplicationType (OPC 10000-4 7.2)
APPLICATION_TYPES: dict[int, str] = {0: "Server", 1: "Client", 2: "ClientAndServer", 3: "DiscoveryServer"}

#: SecurityTokenRequestType (OPC 10000-4 5.5.2)
TOKEN_REQUEST_TYPES: dict[int, str] = {0: "Issue", 1: "Renew"}

#: NodeClass (OPC 10000-3 8.29), a bit mask
NODE_CLASSES: dict[int, str] = {
    0: "Unspecified", 1: "Object", 2: "Variable", 4: "Method", 8: "ObjectType",
    16: "VariableType", 32: "ReferenceType", 64: "DataType", 128: "View",
}

#: AttributeId (OPC 10000-6 A.1)
ATTRIBUTES: dict[int, str] = {
    1: "NodeId", 2: "NodeClass", 3: "BrowseName", 4: "DisplayName", 5: "Description",
    6: "WriteMask", 7: "UserWriteMask", 8: "IsAbstract", 9: "Symmetric", 10: "InverseName",
    11: "ContainsNoLoops", 12: "EventNotifier", 13: "Value", 14: "DataType", 15: "ValueRank",
    16: "ArrayDimensions", 17: "AccessLevel", 18: "UserAccessLevel", 19: "MinimumSamplingInterval",
    20: "Historizing", 21: "Executable", 22: "UserExecutable", 23: "DataTypeDefinition",
    24: "RolePermissions", 25: "UserRolePermissions", 26: "AccessRestrictions", 27: "AccessLevelEx",
}

#: BrowseDirection (OPC 10000-4 7.5)
BROWSE_DIRECTIONS: dict[int, str] = {0: "Forward", 1: "Inverse", 2: "Both", 3: "Invalid"}

#: TimestampsToReturn (OPC 10000-4 7.40)
TIMESTAMPS_TO_RETURN: dict[int, str] = {0: "Source", 1: "Server", 2: "Both", 3: "Neither", 4: "Invalid"}

#: MonitoringMode (OPC 10000-4 7.23)
MONITORING_MODES: dict[int, str] = {0: "Disabled", 1: "Sampling", 2: "Reporting"}

def enum_text(table: dict[int, str], value: int) -> str:
    """Name of an enumeration value; an unknown value is kept as its number (as text)."""
    return table.get(value) or str(value)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def service_name(type_id: int) -> str:
    """``ReadRequest`` for 631; an id outside the table gives ``ServiceId_<n>``."""
    return SERVICES.get(type_id) or f"ServiceId_{type_id}"


def action_name(service: str) -> str:
    """event.action for a service: snake_case without Request/Response (``GetEndpointsRequest`` ->
    ``get_endpoints``, ``ServiceFault`` -> ``service_fault``)."""
    if service.endswith("Request"):
        service = service[:-7]
    elif service.endswith("Response"):
        service = service[:-8]
    return _CAMEL.sub("_", service).lower()


#: service name -> action, precomputed for every known service
ACTIONS: dict[int, str] = {sid: action_name(name) for sid, name in SERVICES.items()}
