"""Raw MCP requests of the 2026-07-28 era (every POST stands alone), for lean load from tests."""

from __future__ import annotations

from typing import Any

PROTOCOL = "2026-07-28"


def modern_request(request_id: int, method: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON-RPC body and the routing headers of one stand-alone request."""
    meta = {"io.modelcontextprotocol/protocolVersion": PROTOCOL, "io.modelcontextprotocol/clientCapabilities": {}}
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": meta}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": PROTOCOL, "Mcp-Method": method}
    if method == "tools/call" and params is not None:
        headers["Mcp-Name"] = params["name"]
    return body, headers
