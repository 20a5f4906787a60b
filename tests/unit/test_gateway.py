"""The LLM gateway against the stub server, through the real openai client over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from prochemy.optimizer.config import Endpoint, Settings
from prochemy.optimizer.extraction import extract_code
from prochemy.optimizer.llm.gateway import ChatRequest, GatewayError, LLMGateway, _connection_headers
from prochemy.optimizer.llm.llama_server import free_port

from ..stub_llm import Fault, StubLLM


def ask(text: str = "hello", **kw) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], **kw)


async def test_answers_and_caches(stub: StubLLM, stub_settings: Settings) -> None:
    gw = LLMGateway(stub_settings, backoff_base_s=0.01)
    first = await gw.chat(ask("two plus two"))
    second = await gw.chat(ask("two plus two"))
    await gw.aclose()
    assert first.text == "echo: two plus two" and not first.cached
    assert second.text == first.text and second.cached
    assert len(stub.completions) == 1
    usage = gw.ledger["task"]
    assert (usage.calls, usage.cache_hits) == (1, 1)
    assert usage.prompt_tokens == 3 and usage.completion_tokens == 4


async def test_cache_survives_a_new_gateway(stub: StubLLM, stub_settings: Settings) -> None:
    gw = LLMGateway(stub_settings)
    await gw.chat(ask())
    await gw.aclose()
    gw = LLMGateway(stub_settings)
    assert (await gw.chat(ask())).cached
    await gw.aclose()
    assert len(stub.completions) == 1


async def test_a_fresh_request_pays_again_unless_a_resumed_measurement_replays_it(
    stub: StubLLM, stub_settings: Settings
) -> None:
    gw = LLMGateway(stub_settings)
    await gw.chat(ask("two plus two", fresh=True))
    again = await gw.chat(ask("two plus two", fresh=True))
    gw.replay_fresh = True  # benchmarks/reference_loop.py --resume
    replayed = await gw.chat(ask("two plus two", fresh=True))
    await gw.aclose()
    assert not again.cached and replayed.cached
    assert len(stub.completions) == 2
    usage = gw.ledger["task"]
    # what the replayed answer cost when it was paid: a resumed leg still knows its total
    assert (usage.calls, usage.completion_tokens, usage.replayed_completion_tokens) == (2, 8, 4)


async def test_samples_at_temperature_one_are_distinct_but_replayable(
    stub: StubLLM, stub_settings: Settings
) -> None:
    gw = LLMGateway(stub_settings)
    await gw.chat(ask(temperature=1.0, sample=0))
    await gw.chat(ask(temperature=1.0, sample=1))
    again = await gw.chat(ask(temperature=1.0, sample=1))
    greedy_a = await gw.chat(ask(sample=0))
    greedy_b = await gw.chat(ask(sample=5))  # greedy: the sample index does not matter
    await gw.aclose()
    assert again.cached and not greedy_a.cached and greedy_b.cached
    assert len(stub.completions) == 3


async def test_cache_key_covers_what_shapes_the_answer(stub: StubLLM, stub_settings: Settings) -> None:
    gw = LLMGateway(stub_settings)
    for request in (
        ask(),
        ask(max_tokens=50),
        ask(stop=["\n"]),
        ask(seed=3),
        ask(response_format={"type": "json_object"}),
        ask(temperature=0.5),
    ):
        await gw.chat(request)
    await gw.aclose()
    assert len(stub.completions) == 6


@pytest.mark.parametrize(
    "fault", [Fault(429, {"Retry-After": "0.2"}), Fault(500), Fault(503), Fault(200, delay_s=1.5)]
)
async def test_retries_transient_failures(stub: StubLLM, stub_settings: Settings, fault: Fault) -> None:
    stub_settings.request_timeout_s = 1.0
    stub.faults.append(fault)
    gw = LLMGateway(stub_settings, backoff_base_s=0.01)
    t0 = time.monotonic()
    result = await gw.chat(ask())
    await gw.aclose()
    assert result.text == "echo: hello"
    assert len(stub.completions) == 2
    if fault.headers.get("Retry-After"):
        assert time.monotonic() - t0 >= 0.2  # Retry-After was honoured


async def test_a_slow_answer_that_keeps_coming_is_not_cut_by_the_timeout(
    stub: StubLLM, stub_settings: Settings
) -> None:
    # 30 pieces 0.1 s apart: 3 s in all, over the 1 s timeout, which bounds only the silence
    # between pieces (a busy CPU must not cancel and restart a long answer that progresses)
    stub_settings.request_timeout_s = 1.0
    stub.stream_delay_s = 0.1
    gw = LLMGateway(stub_settings, backoff_base_s=0.01)
    t0 = time.monotonic()
    result = await gw.chat(ask(" ".join(["word"] * 29)))
    await gw.aclose()
    assert time.monotonic() - t0 > 2.5
    assert result.text == "echo: " + " ".join(["word"] * 29)
    assert len(stub.completions) == 1 and stub.completions[0]["body"]["stream"] is True


async def test_gives_up_after_consecutive_failures(stub: StubLLM, stub_settings: Settings) -> None:
    stub_settings.retries = 1
    stub_settings.max_consecutive_failures = 2
    stub.faults.extend(Fault(500) for _ in range(10))
    gw = LLMGateway(stub_settings, backoff_base_s=0.01)
    with pytest.raises(GatewayError) as first:
        await gw.chat(ask("a"))
    assert first.value.kind == "http_500"
    with pytest.raises(GatewayError) as second:
        await gw.chat(ask("b"))
    assert second.value.kind == "failing" and "2 consecutive" in str(second.value)
    seen = len(stub.completions)
    with pytest.raises(GatewayError):
        await gw.chat(ask("c"))  # tripped: no further request is sent
    await gw.aclose()
    assert seen == 4 and len(stub.completions) == 4


async def test_refused_connection_is_explained(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = Settings(endpoint=Endpoint(base_url=url, model="m"), cache_dir=tmp_path, retries=1)
    gw = LLMGateway(settings, backoff_base_s=0.01)
    with pytest.raises(GatewayError) as error:
        await gw.chat(ask())
    await gw.aclose()
    assert error.value.kind == "refused"
    assert f"cannot connect to {url}" in str(error.value)


async def test_dropped_connection_is_told_apart_from_a_refused_one(tmp_path: Path) -> None:
    """A server that accepts and hangs up (a restart, a broken keep-alive) is not "cannot connect"."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            conn.recv(65536)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    settings = Settings(endpoint=Endpoint(base_url=url, model="m"), cache_dir=tmp_path, retries=0)
    gw = LLMGateway(settings, backoff_base_s=0.01)
    try:
        with pytest.raises(GatewayError) as error:
            await gw.chat(ask())
    finally:
        await gw.aclose()
        listener.close()
    assert error.value.kind == "dropped"
    assert f"the connection to {url} broke" in str(error.value)
    # which way it broke is named: the server hung up without answering (or, when the
    # request was not read to its end, reset the connection)
    cause = str(error.value).split("restarted: ", 1)[1]
    assert cause.startswith(("RemoteProtocolError", "ReadError", "ConnectionResetError")), cause


async def test_missing_v1_is_explained(stub: StubLLM, stub_settings: Settings) -> None:
    stub_settings.endpoint.base_url = stub.url.removesuffix("/v1")
    gw = LLMGateway(stub_settings)
    with pytest.raises(GatewayError) as error:
        await gw.chat(ask())
    await gw.aclose()
    assert error.value.kind == "not_found" and "end in /v1" in str(error.value)


async def test_unknown_model_is_explained(stub: StubLLM, stub_settings: Settings) -> None:
    stub_settings.endpoint.model = "gpt-nonexistent"
    gw = LLMGateway(stub_settings)
    with pytest.raises(GatewayError) as error:
        await gw.chat(ask())
    await gw.aclose()
    assert error.value.kind == "unknown_model" and "gpt-nonexistent" in str(error.value)


async def test_rejected_key_names_the_variable(
    stub: StubLLM, stub_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.api_key = "sk-right"
    stub_settings.endpoint.api_key_env = "PROCHEMY_TEST_KEY"
    monkeypatch.delenv("PROCHEMY_TEST_KEY", raising=False)
    gw = LLMGateway(stub_settings)
    with pytest.raises(GatewayError) as error:
        await gw.chat(ask())
    assert error.value.kind == "unauthorized"
    assert "PROCHEMY_TEST_KEY" in str(error.value) and "not set" in str(error.value)
    monkeypatch.setenv("PROCHEMY_TEST_KEY", "sk-right")  # read at call time: no restart needed
    assert (await gw.chat(ask())).text == "echo: hello"
    await gw.aclose()
    assert stub.completions[-1]["authorization"] == "Bearer sk-right"
    stored = b"".join(p.read_bytes() for p in stub_settings.cache_dir.rglob("*") if p.is_file())
    assert b"sk-right" not in stored


async def test_no_model_named_for_a_remote_endpoint(stub: StubLLM, tmp_path: Path) -> None:
    gw = LLMGateway(Settings(endpoint=Endpoint(base_url=stub.url), cache_dir=tmp_path))
    with pytest.raises(GatewayError, match="no model is named"):
        await gw.chat(ask())
    await gw.aclose()


async def test_mutation_role_uses_its_own_endpoint(stub: StubLLM, stub_settings: Settings) -> None:
    other = StubLLM(responder=lambda m: "from the mutator", models=("mutator",)).start()
    try:
        stub_settings.mutation = Endpoint(base_url=other.url, model="mutator")
        gw = LLMGateway(stub_settings)
        task = await gw.chat(ask())
        mutation = await gw.chat(ask(role="mutation"))
        await gw.aclose()
    finally:
        other.stop()
    assert task.text == "echo: hello" and mutation.text == "from the mutator"
    assert set(gw.ledger) == {"task", "mutation"}


def _completion(content: object) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "stub-model",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
        }
    ).encode()


MALFORMED = {
    "html": Fault(200, raw=b"<html><body>Welcome to nginx!</body></html>", content_type="text/html"),
    "broken-json": Fault(200, raw=b'{"choices": [', content_type="application/json"),
    "no-choices": Fault(200, raw=b'{"id": "x", "object": "chat.completion", "choices": []}'),
    "empty-answer": Fault(200, raw=_completion("")),
    "null-content": Fault(200, raw=_completion(None)),
    "truncated": Fault(200, raw=_completion("x")[:-7]),
}


@pytest.mark.parametrize("name", MALFORMED)
async def test_a_malformed_answer_is_one_clear_error_and_never_cached(
    stub: StubLLM, stub_settings: Settings, name: str
) -> None:
    stub_settings.retries = 1
    stub.faults.extend([MALFORMED[name], MALFORMED[name]])
    gw = LLMGateway(stub_settings, backoff_base_s=0.01)
    with pytest.raises(GatewayError) as caught:
        await gw.chat(ask())
    assert caught.value.kind == "malformed" and stub.url in str(caught.value)
    assert "OpenAI-compatible" in str(caught.value)
    again = await gw.chat(ask())  # the endpoint is back: the bad answer was not cached
    await gw.aclose()
    assert again.text == "echo: hello" and not again.cached


async def test_a_malformed_answer_then_a_good_one_is_retried(stub: StubLLM, stub_settings: Settings) -> None:
    stub.faults.append(MALFORMED["no-choices"])
    gw = LLMGateway(stub_settings, backoff_base_s=0.01)
    result = await gw.chat(ask())
    await gw.aclose()
    assert result.text == "echo: hello" and len(stub.completions) == 2


async def test_a_corrupt_cache_is_set_aside_and_rebuilt(
    stub: StubLLM, stub_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    gw = LLMGateway(stub_settings)
    await gw.chat(ask())
    await gw.aclose()
    db = stub_settings.cache_dir / "llm" / "cache.db"
    db.write_bytes(b"this is not a database" * 100)
    gw = LLMGateway(stub_settings)
    again = await gw.chat(ask())
    await gw.aclose()
    assert again.text == "echo: hello" and not again.cached  # paid again, did not fail
    assert any("corrupt" in r.message for r in caplog.records)
    assert list(stub_settings.cache_dir.glob("llm.corrupt-*"))


async def test_an_endpoint_down_then_back_is_waited_for(tmp_path: Path) -> None:
    """The server goes away mid-run and comes back on the same port within the retries."""
    import asyncio

    first = StubLLM().start()
    port = int(first.url.rsplit(":", 1)[1].split("/")[0])
    settings = Settings(
        endpoint=Endpoint(base_url=first.url, model="stub-model"),
        cache_dir=tmp_path / "cache",
        retries=4,
        request_timeout_s=5,
    )
    gw = LLMGateway(settings, backoff_base_s=0.3)
    assert (await gw.chat(ask("before"))).text == "echo: before"
    first.stop()
    back: list[StubLLM] = []

    async def restart() -> None:
        await asyncio.sleep(0.6)
        back.append(StubLLM(port=port).start())

    restarting = asyncio.ensure_future(restart())
    try:
        result = await gw.chat(ask("during"))
    finally:
        await restarting
        await gw.aclose()
        for stub in back:
            stub.stop()
    assert result.text == "echo: during" and len(back[0].completions) == 1


CODE_THEN_CHATTER = "```python\ndef f(x):\n    return x\n```\n" + "Example usage: f(1) returns 1. " * 60


async def test_stop_at_code_ends_the_answer_and_the_stream(stub: StubLLM, stub_settings: Settings) -> None:
    stub.responder = lambda messages: CODE_THEN_CHATTER
    stub.stream_delay_s = 0.005  # long enough to see the client stop reading
    gw = LLMGateway(stub_settings)
    cut = await gw.chat(ask("write f", stop_at_code=True, entry_point="f"))
    whole = await gw.chat(ask("write f"))
    again = await gw.chat(ask("write f", stop_at_code=True, entry_point="f"))
    await gw.aclose()
    assert cut.text == "```python\ndef f(x):\n    return x\n```" and cut.finish_reason == "code complete"
    assert whole.text == CODE_THEN_CHATTER and not whole.cached  # its own cache entry
    assert again.cached and again.text == cut.text
    time.sleep(0.2)
    sent, total = stub.streams[0]
    assert sent < total / 2, (sent, total)  # the server was told to stop, not read to the end
    assert 0 < cut.completion_tokens < total


async def test_stop_at_code_streams_to_the_end_when_no_code_completes(
    stub: StubLLM, stub_settings: Settings
) -> None:
    stub.responder = lambda messages: "I cannot write that function."
    gw = LLMGateway(stub_settings)
    answer = await gw.chat(ask("write f", stop_at_code=True, entry_point="f"))
    await gw.aclose()
    assert answer.text == "I cannot write that function." and answer.finish_reason == "stop"
    assert answer.completion_tokens == 5 and answer.prompt_tokens == 2  # from the usage chunk


async def test_an_endpoint_that_refuses_streaming_gets_whole_answers(
    stub: StubLLM, stub_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    stub.responder = lambda messages: CODE_THEN_CHATTER
    stub.refuse_streams = True
    gw = LLMGateway(stub_settings)
    first = await gw.chat(ask("write f", stop_at_code=True, entry_point="f"))
    second = await gw.chat(ask("write g", stop_at_code=True, entry_point="g"))
    await gw.aclose()
    assert first.text == CODE_THEN_CHATTER and second.text == CODE_THEN_CHATTER
    streamed = [r for r in stub.completions if r["body"].get("stream")]
    assert len(streamed) == 1  # asked once, then remembered
    assert sum("refused a streamed request" in m for m in caplog.messages) == 1


STUB_PREFILL = '```python\ndef f(x):\n    """Return x."""\n'


@pytest.mark.parametrize("echoes", [True, False], ids=["server-echoes-prefill", "continuation-only"])
async def test_a_prefilled_answer_is_continued_and_returned_whole(
    stub: StubLLM, stub_settings: Settings, echoes: bool
) -> None:
    body = "    return x\n```\nThat is all."
    stub.responder = lambda messages: (messages[-1]["content"] if echoes else "") + body
    stub.stream_delay_s = 0.002
    gw = LLMGateway(stub_settings.model_copy(update={"prefill_code": "always"}))
    cut = await gw.chat(ask("write f", prefill=STUB_PREFILL, stop_at_code=True, entry_point="f"))
    whole = await gw.chat(ask("write f", prefill=STUB_PREFILL))
    plain = await gw.chat(ask("write f"))
    await gw.aclose()
    sent = stub.completions[0]["body"]["messages"]
    assert sent[-1] == {"role": "assistant", "content": STUB_PREFILL}  # an unfinished turn
    assert cut.text == STUB_PREFILL + "    return x\n```" and cut.finish_reason == "code complete"
    assert whole.text == STUB_PREFILL + body and not whole.cached
    assert not plain.cached  # a prefilled answer has its own cache entry
    assert stub.completions[2]["body"]["messages"][-1]["role"] == "user"


async def test_a_prefilled_answer_running_on_into_examples_is_cut_where_they_start(
    stub: StubLLM, stub_settings: Settings
) -> None:
    """A continued stub that never closes its fence (seen with the 1.5B: HumanEval/64 and 76
    ran to max_tokens) stops at its first top-level example line."""
    examples = "".join(f"print(f({i}))\n" for i in range(200))
    body = "    return x\n\n" + examples
    stub.responder = lambda messages: messages[-1]["content"] + body
    stub.stream_delay_s = 0.001
    gw = LLMGateway(stub_settings.model_copy(update={"prefill_code": "always"}))
    cut = await gw.chat(ask("write f", prefill=STUB_PREFILL, stop_at_code=True, entry_point="f"))
    plain = await gw.chat(ask("write f", stop_at_code=True, entry_point="f"))  # not prefilled: not cut
    await gw.aclose()
    assert cut.finish_reason == "code complete" and cut.completion_tokens < 20
    assert extract_code(cut.text, "f") == 'def f(x):\n    """Return x."""\n    return x\n'
    assert plain.text.endswith("print(f(199))\n")


async def test_a_prefill_is_not_sent_to_an_endpoint_that_may_not_continue_it(
    stub: StubLLM, stub_settings: Settings
) -> None:
    # "embedded": only the embedded llama-server is asked; OpenAI's API would start a new turn
    gw = LLMGateway(stub_settings.model_copy(update={"prefill_code": "embedded"}))
    first = await gw.chat(ask("write f", prefill=STUB_PREFILL))
    plain = await gw.chat(ask("write f"))
    await gw.aclose()
    assert stub.completions[0]["body"]["messages"][-1]["role"] == "user"
    assert first.text == "echo: write f" and plain.cached  # the same request, one answer


def _keep_alive_server(listener: socket.socket, seen: list[bytes]) -> None:
    """A server that keeps connections open after an answer (HTTP/1.1 keep-alive) and
    closes one, unanswered, when a second request arrives on it: what a client meets when it
    reuses a connection just as llama-server closes it for idleness, made certain."""
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
    ]
    body = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"

    def serve(conn: socket.socket) -> None:
        with conn:
            stream = conn.makefile("rb")
            for answered in range(2):
                head = b""
                while (line := stream.readline()) not in (b"\r\n", b""):
                    head += line
                if not head:
                    return  # the client closed it
                seen.append(head)
                length = int(
                    next(
                        (
                            h.split(b":")[1]
                            for h in head.split(b"\r\n")
                            if h.lower().startswith(b"content-length")
                        ),
                        b"0",
                    )
                )
                stream.read(length)
                if answered:
                    return  # a second request on a kept connection: closed unanswered
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )

    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # closed: the test is over
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


async def test_a_server_on_this_machine_gets_a_new_connection_per_request(tmp_path: Path) -> None:
    """A reused connection that the server closes as the request arrives is never answered;
    to a loopback server (the embedded llama-server, a local one) no connection is reused, so
    that race cannot happen. Without retries, any reuse here fails the second answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[bytes] = []
    threading.Thread(target=_keep_alive_server, args=(listener, seen), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    settings = Settings(endpoint=Endpoint(base_url=url, model="m"), cache_dir=tmp_path, retries=0)
    gw = LLMGateway(settings, backoff_base_s=0.01)
    try:
        answers = [await gw.chat(ask(f"q{i}")) for i in range(3)]
    finally:
        await gw.aclose()
        listener.close()
    assert [a.text for a in answers] == ["hi"] * 3
    assert len(seen) == 3 and all(b"connection: close" in h.lower() for h in seen)


@pytest.mark.parametrize(
    ("url", "closes"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8080/v1", True),
        ("https://api.openai.com/v1", False),  # a TLS handshake per answer costs more than the race
        ("http://10.0.0.5:8080/v1", False),
    ],
)
def test_only_servers_on_this_machine_get_a_connection_per_request(url: str, closes: bool) -> None:
    assert (_connection_headers(url) == {"Connection": "close"}) is closes
