"""The one door to every LLM: the `openai` client against any OpenAI-compatible endpoint.

Owns endpoint resolution (a configured URL, or the embedded llama-server), bounded
concurrency, retries with backoff, actionable errors, the persistent response cache and
the token ledger. The API key is read from the environment at call time, never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import openai
from pydantic import BaseModel, Field

from ..config import Endpoint, Settings
from ..extraction import code_complete, demo_started
from ..store import RecordStore
from .llama_server import ServerError, shared_server
from .local_model import ModelMissing, model_file, require_model_file, speculative_args

Role = Literal["task", "mutation", "synthesis"]
log = logging.getLogger("prochemy.gateway")


class _Malformed(Exception):
    """The endpoint answered 200 with something that is not a usable chat completion."""


class ChatRequest(BaseModel):
    role: Role = "task"
    messages: list[dict[str, str]]
    temperature: float = 0.0
    max_tokens: int | None = None  # None: the configured default
    stop: list[str] | None = None
    seed: int | None = None
    sample: int = Field(0, description="distinguishes samples at temperature > 0 in the cache")
    response_format: dict[str, Any] | None = None
    # deterministic mode: sent alone, never batched with another request, because
    # llama.cpp's greedy output depends on which requests share its batch
    serial: bool = False
    # stop the answer at the end of the code that extraction would take (the
    # closed fenced block defining `entry_point`): what comes after it (repeated examples,
    # prose) is never used, so it is never generated
    stop_at_code: bool = False
    entry_point: str | None = None
    # the opening of the answer, sent as an unfinished assistant turn that llama-server
    # continues (the task's stub, so the model does not write its docstring again); the
    # answer's text starts with it. Dropped for endpoints that may not continue a turn.
    prefill: str = ""
    # paid again even when cached (the answer is stored afresh): the reference loop
    # measures what a loop without any reuse costs
    fresh: bool = False


class ChatResult(BaseModel):
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    model: str
    cached: bool = False


class RoleUsage(BaseModel):
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # what the answers replayed from the cache cost when they were paid: a measurement that
    # resumes from the cache still knows what the whole run generated
    replayed_completion_tokens: int = 0


class GatewayError(Exception):
    """An LLM call failed for a reason the user can act on; `kind` groups the reasons."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BudgetExhausted(Exception):
    """The configured call or token budget is spent; no further paid call is made."""


class Budget(BaseModel):
    max_calls: int | None = None
    max_tokens_total: int | None = None


class _Resolved(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    client: Any
    identity: str  # stable across runs: the URL, or the embedded model's file name
    model: str
    url: str
    api_key_env: str | None
    streams: bool = True  # False once the endpoint refused a streamed request


class ResponseCache(RecordStore[ChatResult]):
    """Persistent, process-safe store of answers keyed on everything that shapes them."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, ChatResult)

    @staticmethod
    def key(identity: str, model: str, request: ChatRequest, max_tokens: int) -> str:
        shape = {
            "endpoint": identity,
            "model": model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": max_tokens,
            "stop": request.stop,
            "seed": request.seed,
            "response_format": request.response_format,
            # greedy answers are one answer; samples at temperature > 0 are numbered
            "sample": request.sample if request.temperature > 0 else 0,
        }
        if request.serial:  # a separate answer: batched ones may differ
            shape["serial"] = True
        if request.stop_at_code:  # a shorter answer (uncut answers keep their old keys)
            shape["stop_at_code"] = request.entry_point or ""
        if request.prefill:
            shape["prefill"] = request.prefill
            if request.stop_at_code:  # cut where the examples start, too (demo_started)
                shape["cut"] = "demo"
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _chain(error: BaseException) -> list[BaseException]:
    """The error and the exceptions under it, outermost first (bounded: a chain made by hand
    may loop)."""
    chain = [error]
    while len(chain) < 20 and (inner := chain[-1].__cause__ or chain[-1].__context__) is not None:
        chain.append(inner)
    return chain


def _root_cause(error: BaseException) -> str:
    """The innermost exception under the client's, named: which of several ways a connection
    broke (a stale keep-alive connection, a server that hung up mid-answer) is the clue."""
    root = _chain(error)[-1]
    text = str(root).strip()
    return f"{type(root).__name__}: {text}"[:200] if text else type(root).__name__


def _connection_headers(base_url: str) -> dict[str, str]:
    """A new connection per request to a server on this machine. llama-server (cpp-httplib)
    closes a connection idle for 5 s, the client keeps one idle for up to 5 s: a request
    sent on a connection the server is closing at that moment gets no answer ("Server
    disconnected without sending a response"), 22 times in 544 answers of a long run. On
    loopback a connection costs well under a millisecond against answers of seconds, so
    none is kept; a remote endpoint keeps its connections (a TLS handshake each time
    would cost more than the rare race)."""
    host = urlsplit(base_url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        local = False
    return {"Connection": "close"} if local else {}


def _client(base_url: str, api_key: str | Callable[[], Awaitable[str]], timeout: float) -> openai.AsyncOpenAI:
    """The one way a client is made: retries are the gateway's own, connections per host."""
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=timeout,
        default_headers=_connection_headers(base_url),
    )


def _never_connected(error: BaseException) -> bool:
    """Whether a connection error happened before any connection existed (refused, unknown
    host, unreachable) rather than breaking an open one: the two need different advice.
    The transport's own ConnectError is matched by name so that the transport (httpx, under
    openai) stays openai's dependency, not ours."""
    return any(
        isinstance(seen, ConnectionRefusedError | socket.gaierror) or type(seen).__name__ == "ConnectError"
        for seen in _chain(error)
    )


class LLMGateway:
    def __init__(self, settings: Settings, *, backoff_base_s: float = 0.5, use_cache: bool = True) -> None:
        self.settings = settings
        self.backoff_base_s = backoff_base_s
        self.cache = ResponseCache(settings.cache_dir / "llm") if use_cache else None
        self.ledger: dict[str, RoleUsage] = {}
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._serial = asyncio.Lock()
        self._resolved: dict[str, _Resolved] = {}
        self._resolve_lock = asyncio.Lock()
        self._consecutive_failures = 0
        self._tripped: GatewayError | None = None
        self.budget: Budget | None = None  # paid calls only; cache hits are free
        # a measurement resumed across sessions (benchmarks/reference_loop.py --resume): a
        # `fresh` request already in the cache replays, its tokens counted as replayed
        self.replay_fresh = False

    # -- endpoints ---------------------------------------------------------------------

    def endpoint_for(self, role: Role) -> Endpoint:
        if role == "mutation" and self.settings.mutation is not None:
            return self.settings.mutation
        return self.settings.endpoint

    async def _resolve(self, role: Role) -> _Resolved:
        endpoint = self.endpoint_for(role)
        key = endpoint.model_dump_json()
        async with self._resolve_lock:
            if key not in self._resolved:
                self._resolved[key] = await self._connect(endpoint)
            return self._resolved[key]

    async def _connect(self, endpoint: Endpoint) -> _Resolved:
        timeout = self.settings.request_timeout_s
        if endpoint.base_url is None:
            m = self.settings.model
            try:
                model_path = require_model_file(self.settings)
                server = await shared_server(
                    model_path,
                    self.settings.cache_dir / "logs",
                    m.parallel,
                    m.ctx_per_slot,
                    m.threads,
                    m.start_timeout_s,
                    speculative_args(self.settings),
                )
            except ModelMissing as e:
                raise GatewayError("model_missing", str(e)) from None
            except ServerError as e:
                raise GatewayError("server", str(e)) from None
            client = _client(server.base_url, "embedded", timeout)
            identity, model = endpoint_identity(self.settings, endpoint)
            return _Resolved(
                client=client, identity=identity, model=model, url=server.base_url, api_key_env=None
            )
        env_name = endpoint.api_key_env

        async def api_key() -> str:  # read at call time, never stored
            return os.environ.get(env_name) or "no-key"

        client = _client(endpoint.base_url, api_key, timeout)
        if endpoint.model is None:
            raise GatewayError(
                "config",
                f"endpoint {endpoint.base_url} is set but no model is "
                "named: set endpoint.model (PROCHEMY_ENDPOINT__MODEL)",
            )
        identity, model = endpoint_identity(self.settings, endpoint)
        return _Resolved(
            client=client, identity=identity, model=model, url=endpoint.base_url, api_key_env=env_name
        )

    async def describe(self, role: Role = "task") -> dict[str, str]:
        r = await self._resolve(role)
        return {"url": r.url, "model": r.model, "identity": r.identity}

    async def list_models(self, role: Role = "task") -> list[str]:
        r = await self._resolve(role)
        try:
            page = await r.client.models.list()
        except openai.APIError as e:
            raise self._explain(e, r) from None
        return [m.id for m in page.data]

    # -- chat --------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResult:
        if self._tripped is not None:
            raise self._tripped
        r = await self._resolve(request.role)
        if request.prefill and not self._continues(r):
            # OpenAI's API starts a new turn after an assistant message: no continuation
            request = request.model_copy(update={"prefill": ""})
        max_tokens = request.max_tokens or self.settings.max_tokens
        key = ResponseCache.key(r.identity, r.model, request, max_tokens)
        usage = self.ledger.setdefault(request.role, RoleUsage())
        replayable = not request.fresh or self.replay_fresh
        if self.cache is not None and replayable and (hit := self.cache.get(key)) is not None:
            usage.cache_hits += 1
            usage.replayed_completion_tokens += hit.completion_tokens
            return hit.model_copy(update={"cached": True})
        async with self._serial if request.serial else contextlib.nullcontext():
            async with self._limit:
                self._check_budget()
                result = await self._call_with_retries(r, request, max_tokens)
        usage.calls += 1
        usage.prompt_tokens += result.prompt_tokens
        usage.completion_tokens += result.completion_tokens
        if self.cache is not None:
            self.cache.put(key, result)
        return result

    def _continues(self, r: _Resolved) -> bool:
        """Whether the endpoint is asked to continue a prefilled answer."""
        mode = self.settings.prefill_code
        return mode == "always" or (mode == "embedded" and r.identity.startswith("embedded:"))

    async def _call_with_retries(self, r: _Resolved, request: ChatRequest, max_tokens: int) -> ChatResult:
        extra: dict[str, Any] = {}
        if request.stop:
            extra["stop"] = request.stop
        if request.seed is not None:
            extra["seed"] = request.seed
        if request.response_format is not None:
            extra["response_format"] = request.response_format
        if request.serial and r.identity.startswith("embedded:"):
            # llama-server: reusing another request's cached prefix, or another slot, changes
            # the arithmetic; one slot and no prefix reuse make greedy answers repeat
            extra["extra_body"] = {"cache_prompt": False, "id_slot": 0}
        last: Exception | None = None
        for attempt in range(self.settings.retries + 1):
            try:
                result = await self._once(r, request, max_tokens, extra)
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APITimeoutError,
                openai.APIConnectionError,
                openai.APIResponseValidationError,
                _Malformed,
                json.JSONDecodeError,
            ) as e:
                last = e
                if attempt < self.settings.retries:
                    # say so at once: a hanging or broken endpoint must not look like a slow one
                    log.warning(
                        "%s; retrying (%d of %d)", self._explain(e, r), attempt + 1, self.settings.retries
                    )
                    await asyncio.sleep(self._delay(e, attempt))
                continue
            except openai.APIError as e:
                raise self._explain(e, r) from None
            self._consecutive_failures = 0
            return result
        assert last is not None
        error = self._explain(last, r)
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.settings.max_consecutive_failures:
            self._tripped = GatewayError(
                "failing",
                f"stopped after {self._consecutive_failures} consecutive failed "
                f"requests to {r.url}; last error: {error}",
            )
            raise self._tripped
        raise error

    async def _once(
        self, r: _Resolved, request: ChatRequest, max_tokens: int, extra: dict[str, Any]
    ) -> ChatResult:
        # Streamed whenever the endpoint can: the client's read timeout then bounds the
        # silence between tokens, not the whole answer, so a long answer on a slow (or
        # busy) CPU is never cancelled and restarted from scratch while it progresses;
        # a hung server is still told after request_timeout_s.
        if r.streams:
            try:
                return await self._streamed(r, request, max_tokens, extra)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                if "stream" not in _short(e).lower():
                    raise
                # an OpenAI-compatible server without streaming (or stream_options): whole
                # answers from now on, as with stop_at_code = false; say so once
                r.streams = False
                log.warning(
                    "%s refused a streamed request (%s); asking for whole answers instead "
                    "(request_timeout_s now bounds each whole answer)",
                    r.url,
                    _short(e),
                )
        response = await r.client.chat.completions.create(
            model=r.model,
            messages=_sent(request),
            temperature=request.temperature,
            max_tokens=max_tokens,
            **extra,
        )
        result = _parse(response, r.model)
        return result.model_copy(update={"text": _with_prefill(request.prefill, result.text)})

    async def _streamed(
        self, r: _Resolved, request: ChatRequest, max_tokens: int, extra: dict[str, Any]
    ) -> ChatResult:
        """The answer streamed; with `stop_at_code`, closed as soon as its code is complete
        (closing the connection makes llama-server stop decoding that slot)."""
        extra = dict(extra)  # the caller's is reused by the next attempt
        body = dict(extra.pop("extra_body", None) or {})
        if r.identity.startswith("embedded:"):
            body["timings_per_token"] = True  # token counts in every chunk, even a cut one
        stream = await r.client.chat.completions.create(
            model=r.model,
            messages=_sent(request),
            temperature=request.temperature,
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            extra_body=body or None,
            **extra,
        )
        parts: list[str] = []
        pieces = prompt_tokens = completion_tokens = 0
        finish: str | None = None
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    prompt_tokens = chunk.usage.prompt_tokens or prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens or completion_tokens
                timings = (chunk.model_extra or {}).get("timings")
                if isinstance(timings, dict):
                    prompt_tokens = int(timings.get("prompt_n") or prompt_tokens)
                    completion_tokens = int(timings.get("predicted_n") or completion_tokens)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                delta = choice.delta.content if choice.delta is not None else None
                if delta:
                    pieces += 1
                    parts.append(delta)
                    cue = "`" in delta or (request.prefill and "\n" in delta)
                    if request.stop_at_code and cue and _complete(request, "".join(parts)):
                        finish = "code complete"
                        break
        finally:
            await stream.close()
        if not "".join(parts).strip():
            raise _Malformed("an empty answer")
        text = _with_prefill(request.prefill, "".join(parts))
        return ChatResult(
            text=text,
            finish_reason=finish or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens or pieces,  # one token per chunk where not told
            model=r.model,
        )

    def _check_budget(self) -> None:
        if self.budget is None:
            return
        total = self.total_usage()
        if self.budget.max_calls is not None and total.calls >= self.budget.max_calls:
            raise BudgetExhausted(f"call budget of {self.budget.max_calls} spent")
        tokens = total.prompt_tokens + total.completion_tokens
        if self.budget.max_tokens_total is not None and tokens >= self.budget.max_tokens_total:
            raise BudgetExhausted(f"token budget of {self.budget.max_tokens_total:,} spent")

    def _delay(self, error: Exception, attempt: int) -> float:
        response = getattr(error, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return min(self.backoff_base_s * 2**attempt, 30.0) * (0.5 + random.random() / 2)

    def _explain(self, error: Exception, r: _Resolved) -> GatewayError:
        url = r.url
        if isinstance(error, (_Malformed, json.JSONDecodeError, openai.APIResponseValidationError)):
            what = str(error) if isinstance(error, _Malformed) else "a body that is not chat-completion JSON"
            return GatewayError(
                "malformed",
                f"{url} answered with {what}: is it an OpenAI-compatible endpoint (base URL ending in /v1)?",
            )
        if isinstance(error, openai.APITimeoutError):
            return GatewayError(
                "timeout",
                f"{url} sent nothing for {self.settings.request_timeout_s:.0f}s (request_timeout_s)",
            )
        if isinstance(error, openai.APIConnectionError) and not _never_connected(error):
            return GatewayError(
                "dropped",
                f"the connection to {url} broke before the answer came "
                f"(the server closed it or restarted: {_root_cause(error)})",
            )
        if isinstance(error, openai.APIConnectionError):
            return GatewayError(
                "refused", f"cannot connect to {url}: is the server running and the host and port right?"
            )
        if isinstance(error, openai.AuthenticationError):
            where = f"the environment variable {r.api_key_env}" if r.api_key_env else "the key"
            state = "" if r.api_key_env and os.environ.get(r.api_key_env) else " (it is not set)"
            return GatewayError("unauthorized", f"{url} refused the API key (401): check {where}{state}")
        if isinstance(error, openai.NotFoundError):
            if _mentions_model(error):
                return GatewayError(
                    "unknown_model", f"{url} does not serve the model '{r.model}' (404): check endpoint.model"
                )
            return GatewayError("not_found", f"{url} answered 404 Not Found: does the base URL end in /v1?")
        if isinstance(error, openai.APIStatusError):
            return GatewayError(
                f"http_{error.status_code}", f"{url} answered {error.status_code}: {_short(error)}"
            )
        return GatewayError("error", f"{url}: {error}")

    def total_usage(self) -> RoleUsage:
        total = RoleUsage()
        for u in self.ledger.values():
            for field in RoleUsage.model_fields:
                setattr(total, field, getattr(total, field) + getattr(u, field))
        return total

    async def aclose(self) -> None:
        for r in self._resolved.values():
            await r.client.close()
        self._resolved.clear()
        if self.cache is not None:
            self.cache.close()


def _sent(request: ChatRequest) -> list[dict[str, str]]:
    if not request.prefill:
        return request.messages
    return [*request.messages, {"role": "assistant", "content": request.prefill}]


def _complete(request: ChatRequest, so_far: str) -> bool:
    if request.prefill.startswith(so_far):
        return False  # still the echoed prefill
    text = _with_prefill(request.prefill, so_far)
    if request.prefill and demo_started(text, request.entry_point):
        return True
    return code_complete(text, request.entry_point)


def _with_prefill(prefill: str, text: str) -> str:
    """The whole answer: llama-server repeats the prefill in its answer, a server that
    sends only the continuation gets it put back."""
    return text if text.startswith(prefill) else prefill + text


def _parse(response: object, model: str) -> ChatResult:
    """A chat completion as we use it, or _Malformed saying what came instead (an HTML
    page, `choices: []`, no message, an empty answer): never cached, never judged."""
    if isinstance(response, (str, bytes)):
        raise _Malformed(f"a non-JSON body ({str(response)[:80]!r})")
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _Malformed("no choices")
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str) or not text.strip():
        raise _Malformed("an empty answer" if message is not None else "a choice without a message")
    usage = getattr(response, "usage", None)
    return ChatResult(
        text=text,
        finish_reason=str(getattr(choices[0], "finish_reason", None) or ""),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        model=model,
    )


def endpoint_identity(settings: Settings, endpoint: Endpoint) -> tuple[str, str]:
    """(identity, model name) of an endpoint, known without starting or calling anything:
    the embedded server by its GGUF file (its port is random), others by their URL."""
    if endpoint.base_url is None:
        gguf = model_file(settings)
        # speculative decoding may change greedy answers: its own cache entries
        mode = "" if settings.model.speculative == "none" else f"+{settings.model.speculative}"
        return f"embedded:{gguf.name}{mode}", endpoint.model or gguf.stem  # llama-server's alias
    return endpoint.base_url.rstrip("/"), endpoint.model or ""


def _mentions_model(error: openai.APIStatusError) -> bool:
    body = error.body if isinstance(error.body, dict) else {}
    code = str(body.get("code") or (body.get("error") or {}).get("code") or "")
    return "model" in code or "model" in _short(error).lower()


def _short(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(error.message)[:300]
