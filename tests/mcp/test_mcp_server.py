"""The MCP server, through a real MCP client session: an agent sees five memory tools, acts
only as the user the server was started for, and gets every MosError back as a tool error
it can read — never a dropped session, never another user's text."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import typer
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult
from typer.testing import CliRunner

from mos import MOS, NotFound
from mos.cli.mcp_command import mcp_command
from mos.embedders.hashing import HashingEmbedder
from mos.mcp_server import create_server

pytestmark = pytest.mark.anyio
TOOLS = {"add_memory", "search_memories", "get_memory", "memory_history", "list_cubes"}
BOBS_SECRET = "Bob keeps the spare key under the blue flowerpot"
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Memories:
    mos: MOS
    alice_cube: str
    bob_cube: str
    bobs_memory: str


@pytest.fixture
def memories(tmp_path):
    """Alice and Bob, one cube each; Bob's cube holds a memory Alice must never see."""
    with MOS(tmp_path / "data", embedder=HashingEmbedder()) as mos:
        mos.create_user("alice")
        mos.create_user("bob")
        alice_cube = mos.create_cube("alice-notes", owner="alice")
        bob_cube = mos.create_cube("bob-notes", owner="bob")
        yield Memories(mos, alice_cube, bob_cube, mos.add(BOBS_SECRET, "bob", bob_cube))


@asynccontextmanager
async def session(memories: Memories, user: str = "alice", default_cube: str | None = "alice") -> AsyncIterator[Client]:
    """A client session over the in-memory transport, with the initialize handshake and
    JSON-RPC framing a stdio client would use."""
    cube = memories.alice_cube if default_cube == "alice" else default_cube
    async with Client(create_server(memories.mos, user, cube), mode="legacy") as client:
        await client.list_tools()  # lets the client check every result against its output schema
        yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    content = result.structured_content
    return content["result"] if set(content) == {"result"} else content


async def error_of(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} succeeded: {text_of(result)}"
    return text_of(result)


async def test_lists_exactly_the_five_memory_tools_each_with_an_input_schema(memories):
    async with session(memories) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.description and tool.output_schema
        assert not {"user", "user_id", "actor"} & set(tool.input_schema.get("properties", {})), tool.name
    assert tools["add_memory"].input_schema["required"] == ["text"]
    assert set(tools["search_memories"].input_schema["properties"]) == {"query", "top_k", "cube_ids"}
    assert tools["get_memory"].input_schema["required"] == ["memory_id"]
    assert tools["memory_history"].input_schema["required"] == ["memory_id"]
    assert {name for name, tool in tools.items() if tool.annotations.read_only_hint} == TOOLS - {"add_memory"}


async def test_an_added_memory_is_found_by_search(memories):
    async with session(memories) as client:
        added = await call(client, "add_memory", text="Alice moved to Lisbon in May 2023", tags=["move"])
        hits = await call(client, "search_memories", query="Where did Alice move?", top_k=3)
    assert hits[0]["memory_id"] == added["memory_id"]
    assert hits[0]["text"] == "Alice moved to Lisbon in May 2023"
    assert hits[0]["cube_id"] == memories.alice_cube
    assert hits[0]["score"] > 0 and hits[0]["signals"]


async def test_get_returns_the_active_memory_with_the_server_user_as_provenance_actor(memories):
    async with session(memories) as client:
        added = await call(client, "add_memory", text="Alice prefers window seats", tags=["travel"],
                           metadata={"source": "chat"})
        memory = await call(client, "get_memory", memory_id=added["memory_id"])
    assert memory["state"] == "active" and memory["text"] == "Alice prefers window seats"
    assert memory["tags"] == ["travel"] and memory["metadata"] == {"source": "chat"}
    assert memory["provenance"]["created_by"] == "alice" and memory["provenance"]["last_actor"] == "alice"
    assert memory["created_at"].endswith("Z")


async def test_history_lists_memory_created_without_the_embedding(memories):
    async with session(memories) as client:
        added = await call(client, "add_memory", text="Alice's cat is called Miso")
        result = await client.call_tool("memory_history", {"memory_id": added["memory_id"]})
    events = result.structured_content["result"]
    assert [(e["type"], e["version"], e["actor"]) for e in events] == [("MemoryCreated", 1, "alice")]
    assert events[0]["fields"]["text"] == "Alice's cat is called Miso"
    assert "embedding" not in events[0]["fields"] and '"embedding"' not in text_of(result)


async def test_an_unknown_memory_is_a_not_found_tool_error_and_the_server_keeps_serving(memories):
    async with session(memories) as client:
        assert "NotFound" in await error_of(client, "get_memory", memory_id=UNKNOWN_ID)
        assert "NotFound" in await error_of(client, "memory_history", memory_id=UNKNOWN_ID)
        assert await call(client, "list_cubes") == {memories.alice_cube: "owner"}


async def test_a_memory_in_another_users_cube_is_not_found_and_its_text_never_reaches_the_agent(memories):
    bobs = memories.bobs_memory
    async with session(memories) as client:
        refusals = [
            await error_of(client, "get_memory", memory_id=bobs),
            await error_of(client, "get_memory", memory_id=bobs, user_id="bob"),  # not a parameter: ignored
            await error_of(client, "memory_history", memory_id=bobs),
            await error_of(client, "search_memories", query="spare key", cube_ids=[memories.bob_cube]),
            await error_of(client, "add_memory", text="planted", cube_id=memories.bob_cube),
        ]
        hits = await call(client, "search_memories", query="where is the spare key under the flowerpot")
    assert all("NotFound" in message for message in refusals), refusals
    assert not any("flowerpot" in message for message in refusals)
    assert all(hit["memory_id"] != bobs and "flowerpot" not in hit["text"] for hit in hits)
    assert [e.type_name for e in memories.mos.history(bobs, "bob")] == ["MemoryCreated"]


async def test_adding_without_a_cube_on_a_server_without_default_cube_is_invalid_input(memories):
    async with session(memories, default_cube=None) as client:
        assert "InvalidInput" in await error_of(client, "add_memory", text="Alice likes jazz")
        added = await call(client, "add_memory", text="Alice likes jazz", cube_id=memories.alice_cube)
    assert memories.mos.get(added["memory_id"], "alice").cube_id == memories.alice_cube


async def test_arguments_outside_the_input_schema_are_a_tool_error(memories):
    async with session(memories) as client:
        assert "top_k" in await error_of(client, "search_memories", query="Lisbon", top_k=0)
        assert "InvalidInput" in await error_of(client, "add_memory", text="   ")


def test_a_server_for_an_unknown_user_or_an_invisible_default_cube_refuses_to_start(memories):
    with pytest.raises(NotFound):
        create_server(memories.mos, "mallory")
    with pytest.raises(NotFound):
        create_server(memories.mos, "alice", default_cube=memories.bob_cube)


async def test_stdio_server_creates_its_user_and_a_default_cube(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "mos.mcp_server", "--user", "carol", "--data-dir", str(tmp_path)],
        env={"MOS_EMBEDDER": "hashing", "PYTHONPATH": str(repo)}, cwd=repo)
    async with Client(server, mode="legacy") as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
        cubes = await call(client, "list_cubes")
        added = await call(client, "add_memory", text="Carol runs the Thursday book club")
        memory = await call(client, "get_memory", memory_id=added["memory_id"])
    assert list(cubes.values()) == ["owner"] and memory["cube_id"] in cubes
    assert memory["provenance"]["created_by"] == "carol" and memory["provenance"]["source_app"] == "mos-mcp"
    with MOS(tmp_path, embedder=HashingEmbedder()) as mos:
        assert mos.get(added["memory_id"], "carol").text == "Carol runs the Thursday book club"


def test_mcp_command_registers_as_a_cli_command_and_reports_a_mos_error_as_one_stderr_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MOS_EMBEDDER", "hashing")
    cli = typer.Typer()
    cli.command("mcp")(mcp_command)
    cli.command("version")(lambda: None)  # a second command keeps "mcp" a subcommand, as in `mos mcp`
    result = CliRunner().invoke(cli, ["mcp", "--user", "not a valid id", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: InvalidInput: user_id must be")
