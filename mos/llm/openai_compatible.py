"""A ChatCompleter over the OpenAI chat-completions HTTP API (OpenAI, vLLM, Ollama, llama.cpp).

Standard library only. One blocking POST per call, no retries and no streaming: whether a
failure is worth retrying is the caller's decision."""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

from mos.domain.errors import GenerationFailed, InvalidInput
from mos.llm.port import ROLES, ChatMessage, Completion

_BODY_EXCERPT = 200


def _chat_completions_url(base_url: str) -> str:
    """Strips trailing slashes, then appends `/v1` unless the URL already ends with it:
    `http://h:8000`, `http://h:8000/` and `http://h:8000/v1/` all mean `http://h:8000/v1`."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise InvalidInput("base_url must not be empty")
    root = base_url.strip().rstrip("/")
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    return (root if root.endswith("/v1") else root + "/v1") + "/chat/completions"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_request(messages: Sequence[ChatMessage], max_tokens: int, temperature: float) -> None:
    if not messages:
        raise InvalidInput("messages must not be empty")
    for i, m in enumerate(messages):
        if not isinstance(m, ChatMessage) or not isinstance(m.content, str):
            raise InvalidInput(f"messages[{i}] must be a ChatMessage with str content, got {m!r}")
        if m.role not in ROLES:
            raise InvalidInput(f"messages[{i}].role must be one of {sorted(ROLES)}, got {m.role!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidInput(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
    if not _is_number(temperature) or not 0.0 <= temperature <= 2.0:
        raise InvalidInput(f"temperature must be a number in [0, 2], got {temperature!r}")


def _server_message(body: bytes) -> str:
    """The `error.message` of an OpenAI-style error body, else the start of the raw body."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(error, str):  # Ollama's native shape: {"error": "..."}
        return error
    return body[:_BODY_EXCERPT].decode("utf-8", errors="replace")


def _int_or_none(value: object) -> int | None:
    return value if type(value) is int else None


class _ErrorStatusAsResponse(urllib.request.HTTPErrorProcessor):
    """Hands 4xx/5xx back as responses, so their body is read on the one normal path."""

    def http_response(self, request, response):  # type: ignore[no-untyped-def]
        return response
    https_response = http_response


class OpenAICompatibleChat:
    """POSTs to `{base_url}/chat/completions` (see `_chat_completions_url` for `/v1`).

    `Authorization: Bearer <api_key>` is sent only when a key is given (local servers need
    none). The key is kept private and never appears in an error, even when the server echoes it.
    """

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0
    ):
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("model must not be empty")
        if not _is_number(timeout_s) or timeout_s <= 0:
            raise InvalidInput(f"timeout_s must be a number > 0, got {timeout_s!r}")
        self.url = _chat_completions_url(base_url)
        self.model_id = model
        self.timeout_s = timeout_s
        self._api_key = api_key or None
        self._opener = urllib.request.build_opener(_ErrorStatusAsResponse)

    def complete(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float = 0.0
    ) -> Completion:
        _check_request(messages, max_tokens, temperature)
        payload = {"model": self.model_id, "max_tokens": max_tokens, "temperature": temperature,
                   "messages": [{"role": m.role, "content": m.content} for m in messages],
                   "stream": False}
        return self._parse(self._post(json.dumps(payload).encode("utf-8")))

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _post(self, data: bytes) -> bytes:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status, body = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                raise GenerationFailed(f"{self.url} timed out after {self.timeout_s:g} s") from None
            detail = self._redact(str(reason) or type(reason).__name__)
            raise GenerationFailed(f"cannot reach {self.url}: {detail}") from exc
        if not 200 <= status < 300:
            message = self._redact(_server_message(body))
            raise GenerationFailed(f"{self.url} answered HTTP {status}: {message}")
        return body

    def _parse(self, body: bytes) -> Completion:
        try:
            document = json.loads(body)
        except ValueError:
            excerpt = self._redact(body[:_BODY_EXCERPT].decode("utf-8", errors="replace"))
            raise GenerationFailed(f"{self.url} returned malformed JSON: {excerpt!r}") from None
        try:
            choice = document["choices"][0]
            text = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            text = None
        if not isinstance(text, str):
            raise GenerationFailed(f"{self.url} returned no choices[0].message.content")
        usage = document["usage"] if isinstance(document.get("usage"), dict) else {}
        model, finish = document.get("model"), choice.get("finish_reason")
        return Completion(
            text=text,
            model=model if isinstance(model, str) and model else self.model_id,
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            finish_reason=finish if isinstance(finish, str) else None,
        )
