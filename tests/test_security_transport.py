"""Issue 9: nothing leaves for the wrong place (redirects, copies, ambient keys, TLS, sessions, logs).

Every test runs over real loopback sockets against the real SDK, sync and async (the
``flavour`` fixture), and for both SDKs where the guarantee applies (the ``sdk`` fixture:
``create_client`` with openai, ``create_anthropic_client`` with anthropic; issue 13 item 6).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
import trustme

import sequrity_openai as sq
from helpers.raw import RawHttp, Seen
from helpers.sdks import OPENAI, Sdk, anthropic_sdk, run

SQ_KEY = "sq-transport-secret-0123456789abcdef"
LLM_KEY = "sk-provider-transport-secret-fedcba98"
OPENAI_KEY = "sk-openai-ambient-secret-7777777777"
ADMIN_KEY = "sk-admin-ambient-secret-8888888888"
MESSAGES: Any = [{"role": "user", "content": "hi"}]
SESSION = str(uuid.uuid4())
SDK_HTTP = openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0]


def completion(content: str = "ok") -> bytes:
    return OPENAI.answer_body(content)


def ok(session: str | None = None) -> Callable[[Seen], tuple[int, list[tuple[bytes, bytes]], bytes]]:
    """A 200 answer of the SDK that asked (a Messages request gets a Message)."""

    def answer(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        headers = [(b"Content-Type", b"application/json")]
        if session is not None:
            headers.append((b"X-Session-ID", session.encode("latin-1")))
        body = ANTHROPIC_BODY if seen.path.endswith("/messages") else completion()
        return 200, headers, body

    return answer


_ANTHROPIC = anthropic_sdk()
ANTHROPIC_BODY = _ANTHROPIC.answer_body() if _ANTHROPIC is not None else b""


_SDK: list[Sdk] = [OPENAI]


def make(flavour: str, sdk: Sdk = OPENAI, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", SQ_KEY)
    kwargs.setdefault("max_retries", 0)
    return sdk.factory(flavour)(**kwargs)


def call(client: Any, **kwargs: Any) -> Any:
    """One call (chat completion or message) with ``client`` (sync or async), returning the
    answer or the exception."""
    sdk = OPENAI if isinstance(client, (openai.OpenAI, openai.AsyncOpenAI)) else _ANTHROPIC
    assert sdk is not None
    try:
        if sdk.is_async(client):
            return run(sdk.create(client, **kwargs))
        return sdk.create(client, **kwargs)
    except Exception as exc:
        return exc


# --------------------------------------------------------------------------- 1. redirects


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_to_another_origin_is_refused(flavour: str, sdk: Sdk, status: int) -> None:
    with RawHttp(ok(session="evil-session")) as elsewhere:

        def redirect(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            target = f"{elsewhere.url}/steal{seen.path}".encode()
            return status, [(b"Location", target), (b"X-Session-ID", b"redirect-session")], b""

        with RawHttp(redirect) as sequrity, sq.session(SESSION) as scope:
            client = make(
                flavour, sdk, base_url=sequrity.url, llm_api_key=LLM_KEY, policy=sq.Policy.dual_llm()
            )
            outcome = call(client)
    assert isinstance(outcome, sq.RedirectRefusedError), outcome
    assert isinstance(outcome, openai.APIStatusError) and outcome.status_code == status
    assert f"127.0.0.1:{elsewhere.port}" in str(outcome)
    assert outcome.target_origin == elsewhere.url
    assert SQ_KEY not in str(outcome) and LLM_KEY not in str(outcome)
    assert elsewhere.seen == []  # no key, policy, session or body went there
    assert scope.id == SESSION  # a redirect answer never moves the scope


def test_same_origin_redirect_is_followed(flavour: str, sdk: Sdk) -> None:
    def answer(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if "moved" not in seen.path:
            return 307, [(b"Location", b"/moved" + seen.path.encode())], b""
        return ok(session=SESSION)(seen)

    with RawHttp(answer) as sequrity, sq.session() as scope:
        outcome = call(make(flavour, sdk, base_url=sequrity.url, llm_api_key=LLM_KEY))
    assert sdk.text(outcome) == "ok"
    first, second = sequrity.seen
    assert second.path == "/moved" + first.path
    assert second.headers["authorization"] == f"Bearer {SQ_KEY}" and second.headers["x-api-key"] == LLM_KEY
    assert scope.id == SESSION  # the final 2xx answer names the session


# --------------------------------------------------------------------------- 2, 3. copies, ambient credentials


def _copies(client: Any) -> dict[str, Any]:
    return {
        "with_options(timeout)": client.with_options(timeout=5),
        "copy()": client.copy(),
        "set_default_headers=sq.headers()": client.with_options(
            set_default_headers=sq.headers(policy=sq.Policy.single_llm())
        ),
        "default_headers=": client.with_options(default_headers={"X-Trace": "on"}),
    }


def _ambient_environment(sdk: Sdk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything the stock client of ``sdk`` would pick up by itself, bearers included."""
    monkeypatch.setenv(
        sdk.custom_headers_var, f"Authorization: Bearer {OPENAI_KEY}\nX-Corp-Proxy: corp-token"
    )
    monkeypatch.setenv(sdk.base_url_var, "https://api.example.invalid")
    for var in sdk.bearer_vars:
        monkeypatch.setenv(var, OPENAI_KEY)
    if sdk is OPENAI:
        monkeypatch.setenv("OPENAI_ORG_ID", "org-ambient")
        monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-ambient")


def test_copies_made_after_the_environment_changed_keep_the_guarantees(
    flavour: str, sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RawHttp(ok()) as sequrity:
        client = make(flavour, sdk, base_url=sequrity.url, llm_api_key=LLM_KEY)
        # The environment changes after construction; copies re-read it.
        _ambient_environment(sdk, monkeypatch)
        for name, copy in [("original", client), *_copies(client).items()]:
            outcome = call(copy)
            assert not isinstance(outcome, Exception), (name, outcome)
            sent = sequrity.seen[-1].headers
            assert sent["authorization"] == f"Bearer {SQ_KEY}", name
            for header in ("openai-organization", "openai-project", "x-corp-proxy"):
                assert header not in sent, (name, header)
            assert OPENAI_KEY not in json.dumps(sent), name
        assert sequrity.seen[-1].headers["x-trace"] == "on"
        assert len(sequrity.seen) == 5  # nothing went to the ambient base URL


def test_an_ambient_bearer_never_reaches_sequrity(
    flavour: str, sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stock client sharing the factory-made client's HTTP client (an integration does this)
    # takes its bearer from the environment: OPENAI_API_KEY; ANTHROPIC_API_KEY or
    # ANTHROPIC_AUTH_TOKEN. On the Sequrity origin it becomes the Sequrity key. (OPENAI_ADMIN_KEY
    # is the bearer of admin endpoints only: see the next test.)
    bearer_vars = sdk.bearer_vars[:1] if sdk is OPENAI else sdk.bearer_vars
    for variable in bearer_vars:
        for var in sdk.bearer_vars:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv(variable, OPENAI_KEY)
        with RawHttp(ok()) as sequrity:
            client = make(flavour, sdk, base_url=sequrity.url, llm_api_key=LLM_KEY)
            cls = type(client)  # the stock class, built as a user would
            stranger = cls(base_url=client.base_url, http_client=client._client, max_retries=0)
            call(stranger)
        assert sequrity.seen[-1].headers["authorization"] == f"Bearer {SQ_KEY}", variable
        assert OPENAI_KEY not in json.dumps(sequrity.seen[-1].headers), variable


def test_custom_headers_seen_at_construction_stay_refused(
    flavour: str, sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sdk.custom_headers_var, "X-Corp-Proxy: corp-token")
    with RawHttp(ok()) as sequrity:
        client = make(flavour, sdk, base_url=sequrity.url, default_headers={"X-Mine": "kept"})
        copy = client.with_options(set_default_headers={"X-Other": "1"})
        for each in (client, copy):  # the variable still set, then gone
            call(each)
            assert "x-corp-proxy" not in sequrity.seen[-1].headers
        monkeypatch.delenv(sdk.custom_headers_var)
        for each in (client, copy):
            call(each)
            assert "x-corp-proxy" not in sequrity.seen[-1].headers
        assert sequrity.seen[0].headers["x-mine"] == "kept"


def test_explicit_account_headers_are_sent(flavour: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenAI only: the anthropic SDK has no account headers.
    monkeypatch.setenv("OPENAI_ORG_ID", "org-ambient")
    with RawHttp(ok()) as sequrity:
        call(make(flavour, base_url=sequrity.url, organization="org-mine", project="proj-mine"))
    assert sequrity.seen[-1].headers["openai-organization"] == "org-mine"
    assert sequrity.seen[-1].headers["openai-project"] == "proj-mine"


def test_admin_key_never_becomes_the_bearer(flavour: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenAI only (its admin endpoints); the anthropic bearers are covered by the two tests above.
    monkeypatch.setenv("OPENAI_ADMIN_KEY", ADMIN_KEY)

    def answer(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return (
            200,
            [(b"Content-Type", b"application/json")],
            b'{"object": "page", "data": [], "has_more": false}',
        )

    with RawHttp(answer) as sequrity:
        client = make(flavour, base_url=sequrity.url)
        usage = client.admin.organization.usage.completions(start_time=0)
        if asyncio.iscoroutine(usage):
            run(usage)
    assert sequrity.seen[-1].headers["authorization"] == f"Bearer {SQ_KEY}"


# --------------------------------------------------------------------------- 4. TLS trust


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, Path]:
    ca, other = trustme.CA(), trustme.CA()
    folder = tmp_path_factory.mktemp("ca")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    other.cert_pem.write_to_path(str(folder / "other.pem"))
    return ca, folder / "ca.pem", folder / "other.pem"


def _tls_server(ca: trustme.CA, answer: Any) -> RawHttp:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    return RawHttp(answer, tls=context)


def _refused(outcome: Any) -> bool:
    # A TLS failure is the SDK's connection error (openai's or anthropic's).
    return type(outcome).__name__ == "APIConnectionError"


def test_tls_trust_equals_the_stock_client_at_each_moment(
    flavour: str, sdk: Sdk, cas: tuple[trustme.CA, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, ca_file, other_file = cas
    with _tls_server(ca, ok()) as server:
        outcomes = []
        for bundle in (ca_file, other_file, ca_file):  # trusted, removed (fails closed), added back
            monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
            stock = sdk.stock(flavour, server.url)
            ours = make(flavour, sdk, base_url=server.url)
            pair = [_refused(call(c)) for c in (stock, ours)]
            outcomes.append(pair)
            # A client keeps the trust it was built with, whatever is built after it.
            if bundle == ca_file and len(outcomes) == 1:
                first = ours
        assert outcomes == [[False, False], [True, True], [False, False]]
        monkeypatch.setenv("SSL_CERT_FILE", str(other_file))
        make(flavour, sdk, base_url=server.url)
        assert not isinstance(call(first), Exception)


def test_https_to_http_downgrade_on_the_same_host_is_refused(
    flavour: str, sdk: Sdk, cas: tuple[trustme.CA, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, ca_file, _ = cas
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with RawHttp(ok(), host="127.0.0.1") as plain:

        def downgrade(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            return 308, [(b"Location", f"http://localhost:{plain.port}{seen.path}".encode())], b""

        with _tls_server(ca, downgrade) as server:
            outcome = call(make(flavour, sdk, base_url=server.url))
    assert isinstance(outcome, sq.RedirectRefusedError) and "http://localhost:" in str(outcome)
    assert isinstance(outcome, sdk.module.APIStatusError)
    assert plain.seen == []


# --------------------------------------------------------------------------- 8, 9. sessions


@pytest.mark.parametrize("bad", [b"sess-\xe9t\xe9", b"has space", b"x" * 300, b"tab\there"])
def test_invalid_server_session_ids_are_not_adopted(flavour: str, sdk: Sdk, bad: bytes) -> None:
    answers = iter([bad, SESSION.encode()])

    def answer(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return (
            200,
            [(b"Content-Type", b"application/json"), (b"X-Session-ID", next(answers, b"-"))],
            sdk.answer_body(),
        )

    with RawHttp(answer) as sequrity, sq.session() as scope:
        client = make(flavour, sdk, base_url=sequrity.url)
        assert not isinstance(call(client), Exception)
        assert scope.id is None  # not adopted
        second = call(client)  # the scope stays usable
        assert not isinstance(second, Exception), second
        assert "x-session-id" not in sequrity.seen[1].headers  # never re-sent
        assert scope.id == SESSION


def test_session_ids_go_only_to_the_sequrity_origin(flavour: str, sdk: Sdk) -> None:
    shared = sdk.default_http_client(flavour)
    with RawHttp(ok(session=SESSION)) as sequrity, RawHttp(ok(session="other-session")) as other:
        ours = make(flavour, sdk, base_url=sequrity.url, http_client=shared)
        stranger = sdk.stock(flavour, other.url, http_client=shared)
        with sq.session() as scope:
            call(ours)
            assert scope.id == SESSION
            call(stranger)
            call(ours)
        assert "x-session-id" not in other.seen[0].headers  # /control/ in the path is not enough
        assert scope.id == SESSION  # the other host's answer did not move the scope
        assert sequrity.seen[1].headers["x-session-id"] == SESSION


def test_a_query_naming_the_route_does_not_make_a_sequrity_route(flavour: str) -> None:
    # Only the path decides: a request to the Sequrity origin whose query (not path) holds
    # /control/ gets no session id, and its answer does not move the scope.
    shared = OPENAI.default_http_client(flavour)
    with RawHttp(ok(session=SESSION)) as sequrity:
        ours = make(flavour, base_url=sequrity.url, http_client=shared)
        elsewhere = OPENAI.stock(flavour, sequrity.url, http_client=shared).with_options(
            base_url=f"{sequrity.url}/v1/?next=/control/chat/v1"
        )
        with sq.session(session_id="sess-mine") as scope:
            call(elsewhere)
            call(ours)
        assert "/control/" not in sequrity.seen[0].path.partition("?")[0]
        assert "x-session-id" not in sequrity.seen[0].headers
        assert sequrity.seen[1].headers["x-session-id"] == "sess-mine"  # the route still gets it
        assert scope.id == SESSION  # moved by the route's answer only


def test_what_the_guard_leaves_on_a_request_shows_no_key(flavour: str, sdk: Sdk) -> None:
    # The request hook leaves its decision in the request's extensions for the response hook;
    # another hook, a transport or a log that shows them must not find a key there.
    shown: list[str] = []

    def look(response: Any) -> None:
        shown.append(repr(response.request.extensions))

    async def alook(response: Any) -> None:
        look(response)

    http_client = sdk.default_http_client(flavour)
    http_client.event_hooks["response"].append(alook if flavour == "async" else look)
    with RawHttp(ok()) as sequrity:
        client = make(flavour, sdk, base_url=sequrity.url, http_client=http_client, llm_api_key=LLM_KEY)
        answer = call(client)
        assert not isinstance(answer, Exception), answer
    assert len(shown) == 1 and "_sequrity_plan" in shown[0]  # the decision is there...
    assert SQ_KEY not in shown[0] and LLM_KEY not in shown[0]  # ...and no key with it


# --------------------------------------------------------------------------- 10. logs


def test_no_key_in_any_log_record(flavour: str, sdk: Sdk, caplog: pytest.LogCaptureFixture) -> None:
    per_call = "sk-per-call-secret-5555555555555"
    for name in ("openai", "anthropic", "httpx", "httpx2", "httpcore", "httpcore2"):
        caplog.set_level(logging.DEBUG, logger=name)
    with RawHttp(ok(session=SESSION)) as sequrity:
        client = make(flavour, sdk, base_url=sequrity.url, llm_api_key=LLM_KEY)
        call(client)
        call(client, extra_headers=sq.headers(llm_api_key=per_call))
    assert sequrity.seen[-1].headers["x-api-key"] == per_call  # sent...
    assert "Sending HTTP Request" in caplog.text or "Request options" in caplog.text  # ...logged...
    assert any(r.name.startswith(sdk.name) for r in caplog.records)  # (the SDK's own logger too)
    for key in (SQ_KEY, LLM_KEY, per_call):
        assert key not in caplog.text  # ...never shown


# --------------------------------------------------------------------------- issue 10: http_client kinds


def test_every_http_client_the_stock_client_accepts(flavour: str, sdk: Sdk) -> None:
    # On openai 3.x both an httpx2 and an httpx client; elsewhere the SDK's own library.
    for library in sdk.http_libraries():
        http_client = sdk.http_client(library, flavour)
        with RawHttp(ok(session=SESSION)) as sequrity, sq.session() as scope:
            client = make(flavour, sdk, base_url=sequrity.url, http_client=http_client)
            assert client._client is http_client
            call(client)
            call(client)
        assert scope.id == SESSION, library  # the hooks are attached
        assert sequrity.seen[1].headers["x-session-id"] == SESSION, library


def test_wrong_http_client_is_a_configuration_error(flavour: str, sdk: Sdk) -> None:
    other = "async" if flavour == "sync" else "sync"
    wrong = sdk.http_client(sdk.http_libraries()[0], other)  # the other flavour's client
    with pytest.raises(sq.ConfigurationError, match="http_client must be") as info:
        make(flavour, sdk, http_client=wrong)
    assert info.value.setting == "http_client"
