//! Names by code, as the Python parser's tables give them (`FUNCTION_NAMES`, `ACTIONS`,
//! `DIAGNOSTIC_SUBFUNCTIONS`, `DEVICE_ID_OBJECTS`, `MEI_TYPES` of `parsers/modbus_pdu.py` and
//! `EXCEPTION_NAMES` of `parsers/modbus.py`; Application Protocol Specification V1.1b3,
//! sections 5.1, 6 and 7).

/// `FUNCTION_NAMES`: the function codes the parser knows.
pub fn function_name(fc: u8) -> Option<&'static str> {
    Some(match fc {
        1 => "READ_COILS",
        2 => "READ_DISCRETE_INPUTS",
        3 => "READ_HOLDING_REGISTERS",
        4 => "READ_INPUT_REGISTERS",
        5 => "WRITE_SINGLE_COIL",
        6 => "WRITE_SINGLE_REGISTER",
        7 => "READ_EXCEPTION_STATUS",
        8 => "DIAGNOSTICS",
        11 => "GET_COMM_EVENT_COUNTER",
        12 => "GET_COMM_EVENT_LOG",
        15 => "WRITE_MULTIPLE_COILS",
        16 => "WRITE_MULTIPLE_REGISTERS",
        17 => "REPORT_SERVER_ID",
        20 => "READ_FILE_RECORD",
        21 => "WRITE_FILE_RECORD",
        22 => "MASK_WRITE_REGISTER",
        23 => "READ_WRITE_MULTIPLE_REGISTERS",
        24 => "READ_FIFO_QUEUE",
        43 => "ENCAPSULATED_INTERFACE_TRANSPORT",
        _ => return None,
    })
}

/// `ACTIONS.get(fc, "unknown_function")`: event.action (snake_case of the function name).
pub fn action(fc: u8) -> &'static str {
    match fc {
        1 => "read_coils",
        2 => "read_discrete_inputs",
        3 => "read_holding_registers",
        4 => "read_input_registers",
        5 => "write_single_coil",
        6 => "write_single_register",
        7 => "read_exception_status",
        8 => "diagnostics",
        11 => "get_comm_event_counter",
        12 => "get_comm_event_log",
        15 => "write_multiple_coils",
        16 => "write_multiple_registers",
        17 => "report_server_id",
        20 => "read_file_record",
        21 => "write_file_record",
        22 => "mask_write_register",
        23 => "read_write_multiple_registers",
        24 => "read_fifo_queue",
        43 => "encapsulated_interface_transport",
        _ => "unknown_function",
    }
}

pub fn diagnostic_subfunction(sub: u16) -> &'static str {
    match sub {
        0 => "RETURN_QUERY_DATA",
        1 => "RESTART_COMMUNICATIONS_OPTION",
        2 => "RETURN_DIAGNOSTIC_REGISTER",
        3 => "CHANGE_ASCII_INPUT_DELIMITER",
        4 => "FORCE_LISTEN_ONLY_MODE",
        10 => "CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER",
        11 => "RETURN_BUS_MESSAGE_COUNT",
        12 => "RETURN_BUS_COMMUNICATION_ERROR_COUNT",
        13 => "RETURN_BUS_EXCEPTION_ERROR_COUNT",
        14 => "RETURN_SERVER_MESSAGE_COUNT",
        15 => "RETURN_SERVER_NO_RESPONSE_COUNT",
        16 => "RETURN_SERVER_NAK_COUNT",
        17 => "RETURN_SERVER_BUSY_COUNT",
        18 => "RETURN_BUS_CHARACTER_OVERRUN_COUNT",
        20 => "CLEAR_OVERRUN_COUNTER_AND_FLAG",
        _ => "UNKNOWN",
    }
}

pub fn device_id_object(oid: u8) -> Option<&'static str> {
    Some(match oid {
        0 => "vendor_name",
        1 => "product_code",
        2 => "revision",
        3 => "vendor_url",
        4 => "product_name",
        5 => "model_name",
        6 => "user_application_name",
        _ => return None,
    })
}

pub fn mei_name(mei: u8) -> &'static str {
    match mei {
        13 => "CANOPEN_GENERAL_REFERENCE",
        14 => "READ_DEVICE_IDENTIFICATION",
        _ => "UNKNOWN",
    }
}

/// `EXCEPTION_NAMES`: exception codes of exception responses.
pub fn exception_name(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "ILLEGAL_FUNCTION",
        2 => "ILLEGAL_DATA_ADDRESS",
        3 => "ILLEGAL_DATA_VALUE",
        4 => "SERVER_DEVICE_FAILURE",
        5 => "ACKNOWLEDGE",
        6 => "SERVER_DEVICE_BUSY",
        8 => "MEMORY_PARITY_ERROR",
        10 => "GATEWAY_PATH_UNAVAILABLE",
        11 => "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND",
        _ => return None,
    })
}
