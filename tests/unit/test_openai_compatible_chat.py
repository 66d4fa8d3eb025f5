"""OpenAICompatibleChat against a real local HTTP server that speaks the chat-completions API.

The server records every request it receives and answers whatever the test configured, so
each test states both what goes over the wire and what the client makes of the answer.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mos.domain.errors import GenerationFailed, InvalidInput
from mos.llm.openai_compatible import OpenAICompatibleChat
from mos.llm.port import ChatCompleter, ChatMessage, Completion

SECRET = "sk-test-0123456789abcdef"
HELLO = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hi.")]


def openai_answer(text="Hi!", model="served-model", usage=True, finish_reason="stop") -> dict:
    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish_reason}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    return body


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class FakeChatServer:
    """What the server saw, and what it will answer next (status, raw body, delay)."""

    base_url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    body: bytes = json.dumps(openai_answer()).encode()
    delay_s: float = 0.0

    def answer(self, status: int, body: dict | str) -> None:
        self.status = status
        self.body = (json.dumps(body) if isinstance(body, dict) else body).encode()


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy"):  # a proxy must not reroute 127.0.0.1
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Recorded(self.path, dict(self.headers), json.loads(raw)))
            time.sleep(state.delay_s)
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                self.wfile.write(state.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test), as it should

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakeChatServer(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_sends_messages_model_and_max_tokens_to_chat_completions(server):
    chat = OpenAICompatibleChat(server.base_url, "qwen2.5-0.5b")

    chat.complete(HELLO, max_tokens=32, temperature=0.7)

    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body["model"] == "qwen2.5-0.5b"
    assert request.body["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}]
    assert request.body["max_tokens"] == 32
    assert request.body["temperature"] == 0.7
    assert request.body["stream"] is False


def test_returns_text_served_model_usage_and_finish_reason(server):
    server.answer(200, openai_answer(text="Hello there.", model="qwen2.5-0.5b-instruct-q4",
                                     finish_reason="length"))
    chat: ChatCompleter = OpenAICompatibleChat(server.base_url, "qwen")

    completion = chat.complete(HELLO, max_tokens=8)

    assert chat.model_id == "qwen"
    assert completion == Completion(text="Hello there.", model="qwen2.5-0.5b-instruct-q4",
                                    prompt_tokens=12, completion_tokens=3, finish_reason="length")


def test_missing_usage_and_model_fall_back_to_none_and_the_requested_model(server):
    body = openai_answer(usage=False, finish_reason=None)
    del body["model"]
    server.answer(200, body)

    completion = OpenAICompatibleChat(server.base_url, "llama3").complete(HELLO, max_tokens=8)

    assert (completion.model, completion.prompt_tokens, completion.completion_tokens,
            completion.finish_reason) == ("llama3", None, None, None)


@pytest.mark.parametrize("suffix, expected_path", [
    ("", "/v1/chat/completions"),
    ("/", "/v1/chat/completions"),
    ("/v1", "/v1/chat/completions"),
    ("/v1//", "/v1/chat/completions"),
    ("/proxy/openai", "/proxy/openai/v1/chat/completions"),
])
def test_appends_v1_when_base_url_lacks_it(server, suffix, expected_path):
    OpenAICompatibleChat(server.base_url + suffix, "m").complete(HELLO, max_tokens=4)

    assert [r.path for r in server.requests] == [expected_path]


def test_bearer_header_only_when_api_key_given(server):
    OpenAICompatibleChat(server.base_url, "m").complete(HELLO, max_tokens=4)
    OpenAICompatibleChat(server.base_url, "m", api_key=SECRET).complete(HELLO, max_tokens=4)

    without_key, with_key = server.requests
    assert "Authorization" not in without_key.headers
    assert with_key.headers["Authorization"] == f"Bearer {SECRET}"


def test_http_error_status_becomes_generation_failed_with_server_message(server):
    server.answer(404, {"error": {"message": "The model `gpt-9` does not exist",
                                  "type": "invalid_request_error"}})

    with pytest.raises(GenerationFailed) as failure:
        OpenAICompatibleChat(server.base_url, "gpt-9").complete(HELLO, max_tokens=4)

    assert str(failure.value) == (f"{server.base_url}/v1/chat/completions answered HTTP 404: "
                                  "The model `gpt-9` does not exist")


def test_http_error_without_json_message_quotes_the_first_200_chars_of_the_body(server):
    server.answer(502, "Bad Gateway: upstream vLLM worker crashed " + "x" * 300 + "TAIL")

    with pytest.raises(GenerationFailed) as failure:
        OpenAICompatibleChat(server.base_url, "m").complete(HELLO, max_tokens=4)

    message = str(failure.value)
    assert "502" in message and "upstream vLLM worker crashed" in message
    assert "TAIL" not in message and "x" * 150 in message


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_is_a_clear_generation_failed():
    url = f"http://127.0.0.1:{_free_port()}"

    with pytest.raises(GenerationFailed, match="cannot reach") as failure:
        OpenAICompatibleChat(url, "m", timeout_s=5).complete(HELLO, max_tokens=4)

    assert f"{url}/v1/chat/completions" in str(failure.value)


def test_slow_server_is_a_generation_failed_naming_the_timeout(server):
    server.delay_s = 2.0

    started = time.monotonic()
    with pytest.raises(GenerationFailed, match="timed out after 0.2 s") as failure:
        OpenAICompatibleChat(server.base_url, "m", timeout_s=0.2).complete(HELLO, max_tokens=4)

    assert time.monotonic() - started < 1.5
    assert server.base_url in str(failure.value)


@pytest.mark.parametrize("body, complaint", [
    ("<html>not json</html>", "malformed JSON"),
    ({"object": "chat.completion"}, "no choices"),
    ({"choices": []}, "no choices"),
    ({"choices": [{"message": {"role": "assistant", "content": None}}]}, "no choices"),
    ({"choices": [{"text": "legacy completions shape"}]}, "no choices"),
    (["not", "an", "object"], "no choices"),
], ids=["not-json", "no-choices", "empty-choices", "null-content", "no-message", "json-list"])
def test_malformed_response_is_generation_failed(server, body, complaint):
    server.answer(200, body if isinstance(body, (str, dict)) else json.dumps(body))

    with pytest.raises(GenerationFailed, match=complaint):
        OpenAICompatibleChat(server.base_url, "m").complete(HELLO, max_tokens=4)


@pytest.mark.parametrize("call, complaint", [
    (lambda chat: chat.complete([], max_tokens=4), "messages must not be empty"),
    (lambda chat: chat.complete([ChatMessage("tool", "x")], max_tokens=4), "role must be one of"),
    (lambda chat: chat.complete([{"role": "user", "content": "x"}], max_tokens=4), "ChatMessage"),
    (lambda chat: chat.complete(HELLO, max_tokens=0), "max_tokens"),
    (lambda chat: chat.complete(HELLO, max_tokens=True), "max_tokens"),
    (lambda chat: chat.complete(HELLO, max_tokens=4, temperature=-0.1), "temperature"),
    (lambda chat: chat.complete(HELLO, max_tokens=4, temperature=2.5), "temperature"),
    (lambda chat: chat.complete(HELLO, max_tokens=4, temperature=float("nan")), "temperature"),
], ids=["no-messages", "bad-role", "dict-message", "zero-tokens", "bool-tokens",
        "negative-temperature", "hot-temperature", "nan-temperature"])
def test_invalid_arguments_are_rejected_before_any_request(server, call, complaint):
    chat = OpenAICompatibleChat(server.base_url, "m")

    with pytest.raises(InvalidInput, match=complaint):
        call(chat)

    assert server.requests == []


@pytest.mark.parametrize("kwargs, complaint", [
    ({"base_url": "", "model": "m"}, "base_url must not be empty"),
    ({"base_url": "ftp://example.com", "model": "m"}, "http"),
    ({"base_url": "localhost:8000", "model": "m"}, "http"),
    ({"base_url": "http://", "model": "m"}, "host"),
    ({"base_url": "http://localhost:8000", "model": " "}, "model must not be empty"),
    ({"base_url": "http://localhost:8000", "model": "m", "timeout_s": 0}, "timeout_s"),
], ids=["empty-url", "ftp-url", "no-scheme", "no-host", "blank-model", "zero-timeout"])
def test_invalid_configuration_is_rejected_at_construction(kwargs, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        OpenAICompatibleChat(**kwargs)


def test_api_key_never_appears_in_errors(server):
    # Like OpenAI's 401, the server quotes the key it was given back in its message.
    server.answer(401, {"error": {"message": f"Incorrect API key provided: {SECRET}."}})
    chat = OpenAICompatibleChat(server.base_url, "m", api_key=SECRET)
    unreachable = OpenAICompatibleChat(f"http://127.0.0.1:{_free_port()}", "m", api_key=SECRET)

    failures = []
    for client in (chat, unreachable):
        with pytest.raises(GenerationFailed) as failure:
            client.complete(HELLO, max_tokens=4)
        failures.append(failure.value)

    assert "401" in str(failures[0]) and "Incorrect API key provided: ***" in str(failures[0])
    for error in failures:
        assert SECRET not in str(error) and SECRET not in repr(error)
        assert SECRET not in repr(error.__cause__) and SECRET not in repr(error.__context__)
    assert SECRET not in repr(chat)
