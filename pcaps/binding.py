"""Make library clients connect from a chosen loopback source address.

pymodbus takes ``source_address=`` itself. python-snap7 (3.x, pure Python) and asyncua
do not, so these helpers bind the client socket before it connects:

- snap7: `snap7_source` swaps ``snap7.client.ISOTCPConnection`` for a subclass whose
  TCP connect binds the socket first (the client's only socket creation point).
- asyncua: `bind_asyncua_client` replaces one client's ``UaClient.connect_socket`` so its
  ``loop.create_connection`` call gets ``local_addr``.
"""

from __future__ import annotations

import asyncio
import socket
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import snap7.client
from asyncua import Client as UaClientFacade
from asyncua.client.ua_client import UaClient, UaClientState
from snap7.connection import ISOTCPConnection
from snap7.error import S7ConnectionError


def _bound_iso_connection(source_ip: str) -> type[ISOTCPConnection]:
    class BoundISOTCPConnection(ISOTCPConnection):
        """ISO-on-TCP connection whose socket is bound to `source_ip` before connect."""

        def _tcp_connect(self) -> None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout)
            sock.bind((source_ip, 0))
            self.socket = sock
            try:
                sock.connect((self.host, self.port))
            except OSError as exc:
                raise S7ConnectionError(f"TCP connection failed: {exc}") from exc

    return BoundISOTCPConnection


@contextmanager
def snap7_source(source_ip: str) -> Iterator[None]:
    """Within the block, snap7 clients connect from `source_ip`."""
    original = snap7.client.ISOTCPConnection
    snap7.client.ISOTCPConnection = _bound_iso_connection(source_ip)  # type: ignore[misc]
    try:
        yield
    finally:
        snap7.client.ISOTCPConnection = original  # type: ignore[misc]


def bind_asyncua_client(client: UaClientFacade, source_ip: str) -> UaClientFacade:
    """Make this asyncua client open its TCP connection from `source_ip`."""
    ua_client = client.uaclient

    async def connect_socket(self: UaClient, host: str, port: int) -> None:
        self._set_state(UaClientState.CONNECTING)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(self._make_protocol, host, port, local_addr=(source_ip, 0)),
                self._timeout,
            )
        except BaseException:
            self._set_state(UaClientState.DISCONNECTED)
            raise
        self._set_state(UaClientState.SOCKET_OPEN)

    bound: Any = types.MethodType(connect_socket, ua_client)
    ua_client.connect_socket = bound  # type: ignore[method-assign]
    return client
