"""Name tables for S7comm (protocol id 0x32) and S7comm-plus (0x72).

Values follow the public dissectors (Wireshark ``packet-s7comm.c`` and the ``s7comm_plus``
plugin, Zeek ICSNPP ``consts.zeek``) and Siemens' "System Software for S7-300/400 System and
Standard Functions" manual (SZL chapter). Unknown values are never errors: callers keep the raw
number beside the name (``name(table, value)`` gives ``"unknown_0x.."``).
"""

from __future__ import annotations


def name(table: dict[int, str], value: int) -> str:
    """The name of ``value`` in ``table``, or ``unknown_0x..`` keeping the raw value visible."""
    found = table.get(value)
    return found if found is not None else f"unknown_0x{value:02x}"


ROSCTR = {1: "job", 2: "ack", 3: "ack_data", 7: "userdata"}

#: header error class (ack / ack_data)
ERROR_CLASS = {
    0x00: "No error",
    0x81: "Application relationship",
    0x82: "Object definition",
    0x83: "No resources available",
    0x84: "Error on service processing",
    0x85: "Error on supplies",
    0x87: "Access error",
}

#: the most frequent (class << 8 | code) and userdata parameter error codes
ERROR_CODE = {
    0x0000: "No error",
    0x0110: "Invalid block number",
    0x0111: "Invalid request length",
    0x0112: "Invalid parameter",
    0x0113: "Invalid block type",
    0x0114: "Block not found",
    0x0115: "Block already exists",
    0x0116: "Block is write-protected",
    0x0117: "The block/operating system update is too large",
    0x0119: "Incorrect password entered",
    0x011C: "Protocol error",
    0x011D: "Too many blocks",
    0x0120: "End of block list",
    0x0140: "Insufficient memory available",
    0x0141: "Job cannot be processed because of a lack of resources",
    0x8001: "Service cannot be performed while the block is in the current status",
    0x8003: "Error occurred while transferring the block",
    0x8100: "Service unknown to remote module",
    0x8104: "Service not implemented on the module or frame error",
    0x8204: "Type specification for the object is inconsistent",
    0x8205: "A copied block already exists and is not linked",
    0x8301: "Insufficient memory space or work memory on the module",
    0x8302: "Too few resources available",
    0x8304: "No further parallel upload possible",
    0x8305: "Function not available",
    0x8306: "Insufficient work memory",
    0x8307: "Not enough retentive work memory",
    0x8401: "Invalid service sequence",
    0x8402: "Service cannot execute owing to status of the addressed object",
    0x8404: "The function cannot be performed",
    0x8405: "Remote block is in DISABLE state",
    0x8500: "Wrong frames",
    0x8503: "Service canceled prematurely",
    0x8701: "Error addressing the object on the communications partner",
    0x8702: "The requested service is not supported by the module",
    0x8703: "Access to object refused",
    0x8704: "Access error: object damaged",
    0xD001: "Illegal job number",
    0xD002: "Illegal job variant",
    0xD004: "Illegal job status",
    0xD041: "Illegal status list ID",
    0xD042: "Illegal tag address",
    0xD081: "Function not permitted in current mode",
    0xD0A1: "Function not permitted in current protection level",
    0xD0A4: "Forcing has already been established",
    0xD0AD: "Operating mode already set",
    0xD201: "Syntax error in block name",
    0xD202: "Syntax error in function parameters",
    0xD209: "At least one of the given blocks not found on the module",
    0xD20E: "No (further) block available",
    0xD241: "The function is not permitted in the current protection level",
    0xD401: "Information function unavailable",
    0xD405: "Service not supported or syntax error in function parameters",
    0xD406: "Required information currently unavailable",
    0xD601: "Syntax error in function parameter",
    0xD602: "Incorrect password entered",
    0xD603: "The connection has already been legitimized",
    0xD604: "The connection has already been enabled",
    0xD605: "Legitimization not possible because password does not exist",
    0xD801: "At least one tag address is invalid",
    0xD802: "Specified job does not exist",
    0xDC01: "Date and/or time invalid",
    0xEF01: "Error at ID2; only 00H permitted in job",
}

#: job / ack_data parameter function code -> (event.action, display name)
FUNCTIONS = {
    0x00: ("cpu_services", "CPU services"),
    0x04: ("read_var", "Read Var"),
    0x05: ("write_var", "Write Var"),
    0x1A: ("request_download", "Request download"),
    0x1B: ("download_block", "Download block"),
    0x1C: ("download_ended", "Download ended"),
    0x1D: ("start_upload", "Start upload"),
    0x1E: ("upload", "Upload"),
    0x1F: ("end_upload", "End upload"),
    0x28: ("plc_control", "PI-Service"),
    0x29: ("plc_stop", "PLC Stop"),
    0xF0: ("setup_communication", "Setup communication"),
}

AREAS = {
    0x01: "RECORD",
    0x03: "SI200",
    0x05: "SF200",
    0x06: "AI200",
    0x07: "AO200",
    0x1C: "C",
    0x1D: "T",
    0x1E: "C200",
    0x1F: "T200",
    0x80: "P",
    0x81: "I",
    0x82: "Q",
    0x83: "M",
    0x84: "DB",
    0x85: "DI",
    0x86: "L",
    0x87: "V",
}
#: areas whose 3-byte address is a timer/counter number, not byte.bit
NUMBER_AREAS = frozenset({0x1C, 0x1D, 0x1E, 0x1F})

#: item transport size in a request's variable specification
ITEM_TRANSPORT_SIZE = {
    1: "BIT",
    2: "BYTE",
    3: "CHAR",
    4: "WORD",
    5: "INT",
    6: "DWORD",
    7: "DINT",
    8: "REAL",
    9: "DATE",
    10: "TOD",
    11: "TIME",
    12: "S5TIME",
    15: "DATE_AND_TIME",
    28: "COUNTER",
    29: "TIMER",
    30: "IEC_COUNTER",
    31: "IEC_TIMER",
    32: "HS_COUNTER",
}

SYNTAX_IDS = {
    0x10: "S7ANY",
    0x11: "ParameterShort",
    0x12: "ParameterExtended",
    0x13: "PBC-R_ID",
    0x15: "ALARM_LOCKFREE",
    0x16: "ALARM_IND",
    0x19: "ALARM_ACK",
    0x1A: "ALARM_QUERYREQ",
    0x1C: "NOTIFY_IND",
    0x82: "NCK",
    0x83: "NCK_M",
    0x84: "NCK_I",
    0xA2: "DRIVEESANY",
    0xB0: "DBREAD",
    0xB2: "1200SYM",
}

#: transport size in a data item; the length field counts bits for these
DATA_TS_BITS = frozenset({3, 4, 5})
DATA_TRANSPORT_SIZE = {
    0: "NULL",
    3: "BIT",
    4: "BYTE/WORD/DWORD",
    5: "INTEGER",
    6: "DINTEGER",
    7: "REAL",
    9: "OCTET STRING",
    17: "NCK ADDRESS1",
    18: "NCK ADDRESS2",
}

RETURN_CODES = {
    0x00: "Reserved",
    0x01: "Hardware error",
    0x03: "Accessing the object not allowed",
    0x05: "Invalid address",
    0x06: "Data type not supported",
    0x07: "Data type inconsistent",
    0x0A: "Object does not exist",
    0xFF: "Success",
}

#: block type as two ASCII characters in file names ('0A' = DB)
BLOCK_TYPES = {
    "08": "OB",
    "09": "CMod",
    "0A": "DB",
    "0B": "SDB",
    "0C": "FC",
    "0D": "SFC",
    "0E": "FB",
    "0F": "SFB",
}
FILESYSTEMS = {"P": "passive", "A": "active", "B": "active_and_passive"}

PI_SERVICES = {
    "_INSE": "Activates a PLC module",
    "_INS2": "Activates a PLC module",
    "_DELE": "Removes module from the PLC's passive file system",
    "P_PROGRAM": "PLC Start / Stop",
    "_MODU": "PLC Copy Ram to Rom",
    "_GARB": "Compress PLC memory",
    "_N_LOGIN_": "Login",
    "_N_LOGOUT": "Logout",
    "_N_CANCEL": "Cancels NC alarm",
    "_N_F_DELE": "Deletes file",
    "_N_SELECT": "Selects program for execution",
    "_N_F_OPEN": "Opens file",
    "_N_F_CLOS": "Closes file",
    "_N_NEWPWD": "New password",
}

USERDATA_TYPES = {0: "push", 1: "request", 2: "response"}

USERDATA_GROUPS = {
    0x00: "Mode transition",
    0x01: "Programmer commands",
    0x02: "Cyclic services",
    0x03: "Block functions",
    0x04: "CPU functions",
    0x05: "Security",
    0x06: "PBC BSEND/BRECV",
    0x07: "Time functions",
    0x20: "DR Routing",
    0x3F: "NC programming",
}

#: (group, subfunction) -> event.action
USERDATA_ACTIONS = {
    (0x01, 0x01): "block_status",
    (0x01, 0x02): "variable_status",
    (0x01, 0x03): "output_istack",
    (0x01, 0x04): "output_bstack",
    (0x01, 0x05): "output_lstack",
    (0x01, 0x06): "time_measurement",
    (0x01, 0x07): "force_selection",
    (0x01, 0x08): "modify_variable",
    (0x01, 0x09): "force",
    (0x01, 0x0A): "breakpoint",
    (0x01, 0x0B): "exit_hold",
    (0x01, 0x0C): "memory_reset",
    (0x01, 0x0D): "disable_job",
    (0x01, 0x0E): "enable_job",
    (0x01, 0x0F): "delete_job",
    (0x01, 0x10): "read_job_list",
    (0x01, 0x11): "read_job",
    (0x01, 0x12): "replace_job",
    (0x01, 0x13): "block_status_v2",
    (0x01, 0x16): "flash_led",
    (0x02, 0x01): "cyclic_data",
    (0x02, 0x04): "cyclic_unsubscribe",
    (0x02, 0x05): "cyclic_data",
    (0x02, 0x07): "cyclic_data",
    (0x02, 0x08): "read_record",
    (0x03, 0x01): "list_blocks",
    (0x03, 0x02): "list_blocks_of_type",
    (0x03, 0x03): "block_info",
    (0x04, 0x01): "read_szl",
    (0x04, 0x02): "message_service",
    (0x04, 0x03): "diagnostic_message",
    (0x04, 0x05): "alarm_8_indication",
    (0x04, 0x06): "notify_indication",
    (0x04, 0x07): "alarm_8_lock",
    (0x04, 0x08): "alarm_8_unlock",
    (0x04, 0x09): "scan_indication",
    (0x04, 0x0B): "alarm_ack",
    (0x04, 0x0C): "alarm_ack_indication",
    (0x04, 0x0D): "alarm_lock_indication",
    (0x04, 0x0E): "alarm_unlock_indication",
    (0x04, 0x10): "ar_send_indication",
    (0x04, 0x11): "alarm_sq_indication",
    (0x04, 0x12): "alarm_s_indication",
    (0x04, 0x13): "alarm_query",
    (0x04, 0x16): "notify_8_indication",
    (0x05, 0x01): "set_password",
    (0x05, 0x02): "clear_password",
    (0x07, 0x01): "read_clock",
    (0x07, 0x02): "set_clock",
    (0x07, 0x03): "read_clock",
    (0x07, 0x04): "set_clock",
}
#: action for a group when the subfunction is not in USERDATA_ACTIONS
USERDATA_GROUP_ACTIONS = {
    0x00: "mode_transition",
    0x01: "programmer_command",
    0x02: "cyclic_data",
    0x03: "block_function",
    0x04: "cpu_function",
    0x05: "security_function",
    0x06: "pbc_bsend",
    0x07: "time_function",
    0x20: "data_record_routing",
    0x3F: "nc_programming",
}

#: operating modes (SZL 0x0424 bzu-id nibbles, mode transition pushes)
CPU_MODES = {
    0: ("unknown", "Unknown"),
    1: ("stop", "STOP (update)"),
    2: ("stop", "STOP (memory reset)"),
    3: ("stop", "STOP (self initialization)"),
    4: ("stop", "STOP (internal)"),
    5: ("startup", "STARTUP (complete restart)"),
    6: ("startup", "STARTUP (cold restart)"),
    7: ("startup", "STARTUP (restart)"),
    8: ("run", "RUN"),
    9: ("run", "RUN (redundant)"),
    10: ("hold", "HOLD"),
    11: ("link_up", "LINK-UP"),
    12: ("update", "UPDATE"),
    13: ("defective", "DEFECTIVE"),
    14: ("self_test", "SELF-TEST"),
    15: ("no_power", "NO POWER"),
}

#: SZL 0x0232 index 4: position of the mode selector (bart_sch)
MODE_SELECTOR = {0: "undefined", 1: "RUN", 2: "RUN-P", 3: "STOP", 4: "MRES"}

# -- S7comm-plus -------------------------------------------------------------------------------
PLUS_VERSIONS = {1: "V1", 2: "V2", 3: "V3", 0xFE: "system_event", 0xFF: "keep_alive"}
PLUS_OPCODES = {0x31: "request", 0x32: "response", 0x33: "notification", 0x02: "response2"}
#: function code -> (event.action, display name)
PLUS_FUNCTIONS = {
    0x04B1: ("error", "Error"),
    0x04BB: ("explore", "Explore"),
    0x04CA: ("create_object", "CreateObject"),
    0x04D4: ("delete_object", "DeleteObject"),
    0x04F2: ("set_variable", "SetVariable"),
    0x04FC: ("get_variable", "GetVariable"),
    0x0506: ("add_link", "AddLink"),
    0x051A: ("remove_link", "RemoveLink"),
    0x0524: ("get_link", "GetLink"),
    0x0542: ("set_multiple_variables", "SetMultiVariables"),
    0x054C: ("get_multiple_variables", "GetMultiVariables"),
    0x0556: ("begin_sequence", "BeginSequence"),
    0x0560: ("end_sequence", "EndSequence"),
    0x056B: ("invoke", "Invoke"),
    0x057C: ("set_var_sub_streamed", "SetVarSubStreamed"),
    0x0586: ("get_var_sub_streamed", "GetVarSubStreamed"),
    0x0590: ("get_variables_address", "GetVariablesAddress"),
    0x059A: ("abort", "Abort"),
    0x05A9: ("error", "Error 2"),
    0x05B3: ("init_ssl", "InitSSL"),
}
