"""A plain MCP server with no governance: the SDK's low-level server, ``demo.add``, and N filler tools.

    python bench/servers/plain_mcp.py PORT [--tools N] [--stateful]
"""

from __future__ import annotations

import argparse
from typing import Any

import mcp_types
import uvicorn
from mcp.server import Server

INPUT = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}


def build(extra_tools: int) -> Server[Any]:
    tools = [mcp_types.Tool(name="demo.add", description="Adds two numbers.", input_schema=INPUT)]
    tools += [mcp_types.Tool(name=f"bench.tool_{i:03d}", description=f"Filler tool {i}.", input_schema=INPUT) for i in range(extra_tools)]
    listing = mcp_types.ListToolsResult(tools=tools)

    async def on_list(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
        return listing

    async def on_call(ctx: Any, params: mcp_types.CallToolRequestParams) -> mcp_types.CallToolResult:
        arguments = params.arguments or {}
        total = arguments["a"] + arguments["b"]
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=str(total))], structured_content={"sum": total})

    return Server("plain", on_list_tools=on_list, on_call_tool=on_call, get_tool_input_schema=lambda name: INPUT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--tools", type=int, default=0)
    parser.add_argument("--stateful", action="store_true")
    options = parser.parse_args()
    server = build(options.tools)
    app = server.streamable_http_app(streamable_http_path="/mcp", json_response=True, stateless_http=not options.stateful)
    uvicorn.run(app, host="127.0.0.1", port=options.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
