"""Siemens S7 on ISO-on-TCP (port 102): TPKT + COTP + S7comm (0x32) or S7comm-plus (0x72).

S7comm header (Wireshark ``packet-s7comm.c``, ``dissect_s7comm``):

| field | width | meaning |
|---|---|---|
| protocol id | 1 | 0x32 |
| ROSCTR | 1 | 1 job, 2 ack, 3 ack_data, 7 userdata |
| redundancy id | 2 | reserved, 0 |
| PDU reference | 2 | echoed by the answer: pairs requests with responses |
| parameter length | 2 | bytes of the parameter part |
| data length | 2 | bytes of the data part |
| error class | 1 | ack / ack_data only |
| error code | 1 | ack / ack_data only |

Layers live in their own modules: ``cotp`` (TPKT framing, COTP, DT reassembly), ``s7_job``
(job / ack_data functions), ``s7_userdata`` (userdata groups), ``s7_szl`` (identity from SZL
answers), ``s7comm_plus``, ``s7_probe`` (payload signature), ``s7_names`` (value tables).
This module keeps the per-flow state (COTP and userdata fragments, pending requests) and turns
decoded fields into ``Message`` values: ``cotp`` for connection management, ``s7comm`` and
``s7comm_plus`` for application messages. A response carries what it does not repeat (SZL id,
block, PI service, item addresses) from its request, and lists those keys in ``inherited``.
"""

from __future__ import annotations

import struct
from typing import Any

from parsers import ProtocolSpec
from parsers.base import Message, ParseError, StreamParser
from parsers.cotp import DT, Reassembler, decode_cotp, is_eot, plausible_cotp, tpkt_frame
from parsers.s7_job import (
    block_control,
    data_items,
    pi_service,
    plc_stop,
    return_codes,
    setup_communication,
    var_items,
)
from parsers.s7_names import (
    ERROR_CLASS,
    ERROR_CODE,
    FUNCTIONS,
    RETURN_CODES,
    ROSCTR,
    USERDATA_ACTIONS,
    USERDATA_GROUP_ACTIONS,
)
from parsers.s7_probe import probe
from parsers.s7_userdata import UdHead, userdata_data, userdata_param
from parsers.s7comm_plus import PlusState

_HDR = struct.Struct("!BBHHHH")
_DATA_HDR = struct.Struct("!BBH")
#: requests waiting for a response per flow (Suricata uses the same bound)
MAX_PENDING = 500
#: bytes of one COTP TSDU or one userdata answer kept while its fragments arrive
MAX_REASSEMBLY = 256 * 1024
#: userdata answers being reassembled at once per flow
MAX_UD_FRAGMENTS = 16
#: request fields a response inherits when it does not repeat them
_INHERIT = ("szl_id", "szl_index", "block_type", "block_type_code", "block_number", "filename", "pi_service")
_INHERIT_SET = frozenset(_INHERIT)
#: userdata (group << 8 | subfunction) -> event.action
_UD_ACTIONS = {(group << 8) | sub: action for (group, sub), action in USERDATA_ACTIONS.items()}
_JOB_CONTEXT = ("function_code", "items", *_INHERIT)


class S7Parser(StreamParser):
    """S7comm / S7comm-plus over TPKT/COTP: one instance per TCP flow."""

    dataset = "s7comm"
    max_message = 65535
    __slots__ = ("_cotp", "_pending", "_pending_hit", "_ud_recent", "_ud_frags", "_plus")

    def __init__(self) -> None:
        super().__init__()
        self._cotp = [Reassembler(MAX_REASSEMBLY), Reassembler(MAX_REASSEMBLY)]
        # (request sent to server?, pdu_ref) -> request context
        self._pending: dict[tuple[bool, int], dict[str, Any]] = {}
        self._pending_hit = False
        # group << 8 | subfunction -> pending key of the latest userdata request, for PLCs that do
        # not echo the PDU reference
        self._ud_recent: dict[int, tuple[bool, int]] = {}
        # (direction, group, subfunction, data unit ref) -> [payload parts, size]
        self._ud_frags: dict[tuple[bool, int, int, int], list[Any]] = {}
        self._plus = PlusState()

    # -- framing --------------------------------------------------------------------------------
    frame = staticmethod(tpkt_frame)

    def plausible(self, buf: bytes, pos: int, end: int, length: int) -> bool:
        if not plausible_cotp(buf, pos + 4, end, length - 4):
            return False
        if pos + 7 < end and buf[pos + 5] >> 4 == DT and buf[pos + 6] & 0x80:
            return buf[pos + 7] in (0x32, 0x72)
        return True

    def gap(self, to_server: bool) -> None:
        super().gap(to_server)
        self._cotp[1 if to_server else 0].reset()
        self._plus.reset(to_server)
        for key in [k for k in self._ud_frags if k[0] == to_server]:
            del self._ud_frags[key]

    # -- COTP -----------------------------------------------------------------------------------
    def decode(self, buf: bytes, pos: int, end: int, to_server: bool, out: list[Message]) -> None:
        # fast path: a DT (LI 2) with EOT carrying a whole TSDU, no earlier segments held
        if end - pos > 7 and buf[pos + 4] == 2 and buf[pos + 5] >> 4 == DT and buf[pos + 6] & 0x80:
            if not self._cotp[1 if to_server else 0].pending:
                proto = buf[pos + 7]
                if proto == 0x32:
                    self._s7(buf, pos + 7, end, to_server, out, 1)
                    return
                if proto == 0x72:
                    self._plus.decode(buf, pos + 7, end, to_server, out)
                    return
        ptype, data, cf = decode_cotp(buf, pos + 4, end)
        if cf is not None:
            out.append(Message("cotp", cf.pop("action"), cf, to_server))
            return
        reasm = self._cotp[1 if to_server else 0]
        if not is_eot(buf, pos + 4):
            if not reasm.add(buf[data:end]):
                self.error("cotp_reassembly_overflow", f"more than {MAX_REASSEMBLY} bytes")
            return
        segments = 1
        if reasm.pending:
            buf, segments = reasm.finish(buf[data:end])
            data, end = 0, len(buf)
        if data >= end or not segments:
            return  # an empty DT carries nothing to report
        proto = buf[data]
        if proto == 0x32:
            self._s7(buf, data, end, to_server, out, segments)
        elif proto == 0x72:
            self._plus.decode(buf, data, end, to_server, out)
        else:
            raise ParseError("unknown_protocol_id", f"0x{proto:02x}")

    # -- S7comm ---------------------------------------------------------------------------------
    def _s7(self, b: bytes, pos: int, end: int, to_server: bool, out: list[Message], segments: int) -> None:
        if end - pos < 10:
            raise ParseError("truncated_s7_header", f"{end - pos} bytes")
        _pid, rosctr, redid, pdu_ref, plen, dlen = _HDR.unpack_from(b, pos)
        hlen = 12 if rosctr in (2, 3) else 10
        if end - pos < hlen:
            raise ParseError("truncated_s7_header", f"{end - pos} bytes")
        f: dict[str, Any] = {
            "rosctr": rosctr,
            "rosctr_name": ROSCTR.get(rosctr, "unknown"),
            "pdu_ref": pdu_ref,
            "param_length": plen,
            "data_length": dlen,
        }
        flags: list[str] = []
        if redid:
            flags.append("reserved_not_zero")
        if segments > 1:
            f["cotp_segments"] = segments
        p = pos + hlen
        p_end = p + plen
        d_end = p_end + dlen
        if d_end > end:
            flags.append("length_mismatch")
            p_end = min(p_end, end)
            d_end = end
        elif d_end < end:
            flags.append("trailing_bytes")
        if hlen == 12:
            ecls, ecode = b[pos + 10], b[pos + 11]
            f["error_class"] = ecls
            f["error_code"] = ecode
            f["error_class_name"] = ERROR_CLASS.get(ecls, "unknown")
            if ecls or ecode:
                f["error"] = ERROR_CODE.get((ecls << 8) | ecode, f["error_class_name"])
        if rosctr in (1, 2, 3):
            action = self._job(rosctr, b, p, p_end, d_end, to_server, f, flags)
        elif rosctr == 7:
            action = self._userdata(b, p, p_end, d_end, to_server, f, flags)
        else:
            flags.append("unknown_rosctr")
            f["is_response"] = not to_server
            action = "unknown_rosctr"
        if flags:
            f["flags"] = flags
        out.append(Message("s7comm", action, f, to_server))

    def _remember(self, key: tuple[bool, int], ctx: dict[str, Any], flags: list[str]) -> None:
        pending = self._pending
        if len(pending) >= MAX_PENDING:
            pending.pop(next(iter(pending)))
            if not self._pending_hit:
                self._pending_hit = True
                flags.append("pending_requests_bound_hit")
        pending[key] = ctx

    def _job(
        self,
        rosctr: int,
        b: bytes,
        p: int,
        p_end: int,
        d_end: int,
        to_server: bool,
        f: dict[str, Any],
        flags: list[str],
    ) -> str:
        job = rosctr == 1
        f["is_response"] = not job
        req = None if job else self._pending.pop((not to_server, f["pdu_ref"]), None)
        if not job:
            f["matched"] = req is not None
        fn = b[p] if p < p_end else None
        if req is not None and ((fn is not None and req.get("function_code") != fn) or "group" in req):
            flags.append("function_code_mismatch")
            req = None  # a different request: inherit nothing from it
        if fn is None:
            if req is None:
                return "ack" if rosctr == 2 else "unknown_function"
            fn = req["function_code"]
            f["inherited"] = ["function_code", "function"]
        action, fname = FUNCTIONS.get(fn, ("unknown_function", "unknown"))
        f["function_code"] = fn
        f["function"] = fname
        if p < p_end:
            self._job_body(fn, job, b, p, p_end, d_end, f, flags, req)
        if job:
            ctx: dict[str, Any] = {}
            for k in _JOB_CONTEXT:  # a plain loop: cheaper than a comprehension here
                if k in f:
                    ctx[k] = f[k]
            self._remember((to_server, f["pdu_ref"]), ctx, flags)
        elif req is not None:
            _inherit(req, f)
        return action

    def _job_body(
        self,
        fn: int,
        job: bool,
        b: bytes,
        p: int,
        p_end: int,
        d_end: int,
        f: dict[str, Any],
        flags: list[str],
        req: dict[str, Any] | None,
    ) -> None:
        if fn == 0xF0:
            setup_communication(b, p, p_end, f, flags)
        elif fn in (0x04, 0x05):
            count = b[p + 1] if p_end - p >= 2 else 0
            f["item_count"] = count
            if job:
                f["items"], _ = var_items(b, p + 2, p_end, count, flags)
                if fn == 0x05:
                    ditems, f["values"], _ = data_items(b, p_end, d_end, count, flags)
                    for item, ditem in zip(f["items"], ditems, strict=False):
                        item["data_transport_size"] = ditem["data_transport_size"]
                return
            if fn == 0x04:
                items, f["values"], _ = data_items(b, p_end, d_end, count, flags)
            else:
                items = return_codes(b, p_end, d_end, count, flags)
            if req is not None and len(req.get("items", ())) == len(items):
                items = [{**spec, **item} for spec, item in zip(req["items"], items, strict=True)]
                f.setdefault("inherited", []).append("item_addresses")
            f["items"] = items
        elif 0x1A <= fn <= 0x1F:
            block_control(fn, job, b, p, p_end, p_end, d_end, f, flags)
        elif fn == 0x28:
            if job:
                pi_service(b, p, p_end, f, flags)
            elif p_end - p >= 2:
                f["function_status"] = b[p + 1]
        elif fn == 0x29 and job:
            plc_stop(b, p, p_end, f, flags)

    # -- userdata -------------------------------------------------------------------------------
    def _userdata(
        self, b: bytes, p: int, p_end: int, d_end: int, to_server: bool, f: dict[str, Any], flags: list[str]
    ) -> str:
        head = userdata_param(b, p, p_end, f, flags)
        if head is None:
            f["is_response"] = not to_server
            return "userdata"
        group, sub, utype, _seq, dur, last, mode_transition = head
        f["is_response"] = utype == 2
        if mode_transition:
            return "mode_transition"
        group_sub = (group << 8) | sub
        action = _UD_ACTIONS.get(group_sub) or USERDATA_GROUP_ACTIONS.get(group, "userdata")
        if d_end - p_end >= 4:
            ret, _ts, length = _DATA_HDR.unpack_from(b, p_end)
            f["return_code"] = ret
            f["return_name"] = RETURN_CODES.get(ret, "unknown")
            start = p_end + 4
            stop = start + length
            if stop > d_end:
                flags.append("truncated_data")
                stop = d_end
            if utype == 1 or (dur == 0 and last == 0):  # not fragmented
                userdata_data(head, ret, b, start, stop, f, flags)
            else:
                payload = self._ud_reassemble(head, to_server, b, start, stop, f, flags)
                if payload is not None:
                    userdata_data(head, ret, payload[0], payload[1], payload[2], f, flags)
        elif d_end > p_end:
            flags.append("truncated_data")
        key = (to_server, f["pdu_ref"])
        if utype == 1:
            ctx = {}
            for k in _INHERIT:
                if k in f:
                    ctx[k] = f[k]
            ctx["group"] = group
            ctx["subfunction"] = sub
            self._remember(key, ctx, flags)
            recent = self._ud_recent
            recent[group_sub] = key
            if len(recent) > MAX_PENDING:
                recent.pop(next(iter(recent)))
        elif utype == 2:
            req = self._pending.pop((not to_server, key[1]), None)
            if req is None:
                alt = self._ud_recent.get(group_sub)
                if alt is not None and alt[0] != to_server:
                    req = self._pending.pop(alt, None)
            f["matched"] = req is not None
            if req is not None and (req.get("group") != group or req.get("subfunction") != sub):
                flags.append("function_code_mismatch")
            elif req is not None:
                _inherit(req, f)
        return action

    def _ud_reassemble(
        self,
        head: UdHead,
        to_server: bool,
        b: bytes,
        start: int,
        stop: int,
        f: dict[str, Any],
        flags: list[str],
    ) -> tuple[bytes, int, int] | None:
        """The complete payload (buffer, start, stop), or None while fragments are outstanding."""
        if head.type == 1 or (head.data_unit_ref == 0 and head.last_data_unit == 0):
            return b, start, stop
        key = (to_server, head.group, head.subfunction, head.data_unit_ref)
        frags = self._ud_frags
        entry = frags.get(key)
        if head.last_data_unit:  # more data units follow
            f["fragment"] = True
            if entry is None:
                if len(frags) >= MAX_UD_FRAGMENTS:
                    frags.pop(next(iter(frags)))
                    flags.append("reassembly_bound_hit")
                entry = frags[key] = [[], 0]
            entry[0].append(b[start:stop])
            entry[1] += stop - start
            if entry[1] > MAX_REASSEMBLY:
                del frags[key]
                flags.append("reassembly_bound_hit")
            return None
        if entry is None:
            return b, start, stop
        del frags[key]
        entry[0].append(b[start:stop])
        whole = b"".join(entry[0])
        f["reassembled"] = True
        f["fragments"] = len(entry[0])
        return whole, 0, len(whole)


def _inherit(req: dict[str, Any], f: dict[str, Any]) -> None:
    """Copy what the response does not repeat from its request; list the copied keys."""
    # a request context holds the ``_INHERIT`` keys in ``_INHERIT`` order
    got = [k for k in req if k in _INHERIT_SET and k not in f]
    for k in got:
        f[k] = req[k]
    if got:
        f.setdefault("inherited", []).extend(got)


SPEC = ProtocolSpec("s7comm", frozenset({102}), probe, S7Parser)
