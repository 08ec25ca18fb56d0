"""Property tests: header models round-trip, no environment string breaks configuration, and
the guard's fast path passes only requests its cleaning would leave alone.

The model strategies are derived from the models' own fields (types, literals, bounds), so a
field added later is covered without touching this file.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import types
import typing
from typing import Any, Literal, Union

import annotated_types
import openai
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

import sequrity_openai as sq
from sequrity_openai._ambient import OPENAI as OPENAI_AMBIENT
from sequrity_openai._http import sdk_module
from sequrity_openai._settings import resolve_settings
from sequrity_openai._targets import Target, header_names, sent_headers

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER_OF: dict[type[BaseModel], tuple[str, str]] = {
    sq.Features: ("X-Features", "SEQURITY_FEATURES"),
    sq.Policy: ("X-Policy", "SEQURITY_POLICY"),
    sq.Config: ("X-Config", "SEQURITY_CONFIG"),
}
VALID_ENV = {"SEQURITY_API_KEY": "sq-property-key-0123456789", "SEQURITY_BASE_URL": "http://127.0.0.1:9"}
VARIABLES = (
    "SEQURITY_FEATURES",
    "SEQURITY_POLICY",
    "SEQURITY_CONFIG",
    "SEQURITY_PROVIDER",
    "SEQURITY_ENDPOINT_TYPE",
    "SEQURITY_BASE_URL",
    "SEQURITY_API_KEY",
    "SEQURITY_LLM_API_KEY",
)


# --------------------------------------------------------------------------- model strategies


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.update(_bounds(item.metadata))
        elif isinstance(item, annotated_types.Ge):
            out["min_value"] = item.ge
        elif isinstance(item, annotated_types.Le):
            out["max_value"] = item.le
        elif isinstance(item, (annotated_types.Gt, annotated_types.Lt)):
            raise NotImplementedError(f"add strict bounds to the strategy builder: {item!r}")
    return out


SQRT_SNIPPETS = [
    "",
    'tool "send_email" { hard deny always; }',
    'let s = {"a", "b"};\ntool r"^get_.*" -> @tags |= s;',
    '/// doc\ntool "x" { priority 2; soft allow when a.value in {1, 2}; }',
]


def _strategy(annotation: Any, metadata: list[Any], *, finite: bool, full: bool) -> st.SearchStrategy[Any]:
    """Values that ``annotation`` (with ``metadata`` bounds) accepts."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _strategy(args[0], [*metadata, *args[1:]], finite=finite, full=full)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_strategy(a, metadata, finite=finite, full=full) for a in args))
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(_strategy(args[0], [], finite=finite, full=full), max_size=3)
    if origin is dict:
        return st.dictionaries(
            st.text(max_size=8), _strategy(args[1], [], finite=finite, full=full), max_size=3
        )
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(**_bounds(metadata))
    if annotation is float:
        if finite:
            return st.floats(allow_nan=False, allow_infinity=False, **_bounds(metadata))
        return st.floats(**_bounds(metadata))  # everything the model accepts, inf and nan included
    if annotation is str:
        return st.text(max_size=12)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation, finite=finite, full=full)
    raise NotImplementedError(f"add {annotation!r} to the strategy builder")


def _validate(model: type[BaseModel], data: dict[str, Any]) -> BaseModel | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def model_strategy(
    model: type[BaseModel], *, finite: bool = True, full: bool = False
) -> st.SearchStrategy[Any]:
    """Instances of ``model``; the model itself has the last word on what is valid.

    ``full`` gives every field a value (``None`` included) instead of leaving some out, which
    reaches deeply nested fields far more often.
    """
    fields = {
        name: _strategy(info.annotation, list(info.metadata), finite=finite, full=full)
        for name, info in model.model_fields.items()
    }
    if model is sq.PolicyCode:
        # Policy code is checked with the service's SQRT grammar; arbitrary text is not code.
        fields["code"] = st.sampled_from(SQRT_SNIPPETS)
    chosen = st.fixed_dictionaries(fields) if full else st.fixed_dictionaries({}, optional=fields)
    built = chosen.map(lambda data: _validate(model, data))
    return built.filter(lambda value: value is not None)


HEADER_MODELS = st.one_of(*(model_strategy(m, full=full) for m in HEADER_OF for full in (False, True)))
ANY_HEADER_MODELS = st.one_of(*(model_strategy(m, finite=False, full=True) for m in HEADER_OF))


# --------------------------------------------------------------------------- round trips


@SETTINGS
@given(HEADER_MODELS)
def test_every_valid_model_round_trips_through_its_header(model: Any) -> None:
    cls = type(model)
    header = model.to_header()
    assert header.isascii()
    assert not any(c in header for c in "\r\n\x00")
    assert cls.from_header(header) == model
    assert cls.model_validate_json(header) == model
    assert cls.from_header(header).to_header() == header


@SETTINGS
@given(HEADER_MODELS)
def test_a_header_string_in_the_environment_sends_the_same_bytes(model: Any) -> None:
    name, variable = HEADER_OF[type(model)]
    header = model.to_header()
    resolved = resolve_settings(environ={**VALID_ENV, variable: header})
    assert resolved.headers[name] == header
    keyword = variable.removeprefix("SEQURITY_").lower()
    assert sq.headers(**{keyword: model})[name] == header
    assert sq.headers(**{keyword: json.loads(header)})[name] == header


def _reject_constant(token: str) -> Any:
    raise ValueError(f"not JSON (RFC 8259): {token}")


# No shrinking: these models are large and the minimal cases are pinned in the test below.
@settings(SETTINGS, max_examples=300, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(ANY_HEADER_MODELS)
def test_every_header_the_models_accept_is_strict_json(model: Any) -> None:
    # A server parsing strictly (RFC 8259) rejects NaN and Infinity tokens.
    json.loads(model.to_header(), parse_constant=_reject_constant)


@pytest.mark.parametrize(
    "data",
    [
        {"llm": {"pllm": {"temperature": math.inf}}},
        {"llm": {"pllm": {"frequency_penalty": math.nan}}},
        '{"llm": {"qllm": {"seed": 1, "presence_penalty": 1e999}}}',
    ],
    ids=["inf", "nan", "overflowing-literal"],
)
def test_non_finite_floats_are_refused_or_sent_as_json(data: Any) -> None:
    try:
        header = sq.headers(config=data)["X-Config"]
    except sq.ConfigurationError:
        return
    json.loads(header, parse_constant=_reject_constant)


# --------------------------------------------------------------------------- environment strings

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates and controls included
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                sorted(
                    {
                        n
                        for m in (sq.Features, sq.Policy, sq.Config, sq.FsmConfig, sq.PolicyPresets)
                        for n in m.model_fields
                    }
                )
            )
            | st.text(max_size=6),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
JSON_TEXT = _JSON.map(json.dumps)
_PAD = st.sampled_from(["", " ", "\t", "\n", "\x00"])
WORDS = st.builds(
    lambda pad, word, end: pad + word + end,
    _PAD,
    st.sampled_from([*sq.PROVIDERS, *sq.ENDPOINT_TYPES, "single-llm", "dual-llm", "OpenAI", "CHAT", ""]),
    _PAD,
)
URLS = st.builds(
    lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "//", "http:/", ""]),
    st.sampled_from(["127.0.0.1", "localhost", "[::1]", "api.sequrity.ai", "[::1", "user:pw@h.example", ""])
    | st.text(max_size=6),
    st.sampled_from(["", ":8000", ":0", ":65536", ":-1", ":x", ":"])
    | st.text(max_size=4).map(lambda s: ":" + s),
    st.sampled_from(["", "/", "/control", "/control/chat/openai/v1/", "/control/x/y/z", "?q=1", "#f", "/a b"])
    | ANY_TEXT.map(lambda s: "/" + s),
)
ENV_VALUES = st.one_of(ANY_TEXT, JSON_TEXT, WORDS, URLS)
# Values some variable accepts, so that whole environments often configure a client.
ACCEPTED = st.sampled_from(
    [
        "",
        "dual-llm",
        "single-llm",
        "openai",
        "chat",
        "http://127.0.0.1:8000",
        '{"agent_arch":"dual-llm"}',
        "{}",
    ]
)


# Variables read for exactly one setting; an exported-but-empty variable counts as unset.
DIRECT = {
    "SEQURITY_API_KEY": "api_key",
    "SEQURITY_LLM_API_KEY": "llm_api_key",
    "SEQURITY_BASE_URL": "base_url",
    "SEQURITY_FEATURES": "features",
    "SEQURITY_POLICY": "policy",
    "SEQURITY_CONFIG": "config",
    "SEQURITY_PROVIDER": "provider",
    "SEQURITY_ENDPOINT_TYPE": "endpoint_type",
}
HEADER_SETTING = {"features": "X-Features", "policy": "X-Policy", "config": "X-Config"}


def _configures_or_refuses(environ: dict[str, str]) -> None:
    """Either a ConfigurationError, or settings that say truthfully where each value came from."""
    try:
        settings = resolve_settings(environ=environ)
    except sq.ConfigurationError:
        return
    for variable, name in DIRECT.items():
        origin = getattr(settings, name).origin
        if environ.get(variable):
            assert origin == variable, (name, origin)
        else:
            assert origin != variable, (name, origin)
    assert settings.api_key.value == environ["SEQURITY_API_KEY"]
    if environ.get("SEQURITY_LLM_API_KEY"):
        assert settings.llm_api_key.value == environ["SEQURITY_LLM_API_KEY"]
    # The headers are built from the resolved models, byte for byte.
    for name, header in HEADER_SETTING.items():
        model = getattr(settings, name).value
        assert settings.headers.get(header) == (None if model is None else model.to_header())
    assert settings.headers.get("X-Api-Key") == settings.llm_api_key.value
    assert settings.route.startswith(settings.base_url.value.rstrip("/") + "/control/")
    assert f"/control/{settings.endpoint_type.value}/" in settings.route


@SETTINGS
@given(st.sampled_from(VARIABLES), ENV_VALUES)
@example("SEQURITY_BASE_URL", "http://[::1")
def test_one_environment_string_configures_or_raises_configuration_error(variable: str, value: str) -> None:
    _configures_or_refuses({**VALID_ENV, variable: value})


@SETTINGS
@given(
    st.sampled_from([{}, VALID_ENV]),  # on top of a working environment too, so settings do get built
    st.dictionaries(st.sampled_from(VARIABLES), ENV_VALUES | ACCEPTED, max_size=len(VARIABLES)),
)
def test_any_environment_configures_or_raises_configuration_error(
    base: dict[str, str], environ: dict[str, str]
) -> None:
    _configures_or_refuses({**base, **environ})


def _can_live_in_os_environ(value: str) -> bool:
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


@SETTINGS
@given(st.sampled_from(VARIABLES), ENV_VALUES.filter(_can_live_in_os_environ))
@example("SEQURITY_BASE_URL", "http://127.0.0.1:x")
@example("SEQURITY_BASE_URL", "https://h/\udcff")  # os.environ holds undecodable bytes this way
@example("SEQURITY_BASE_URL", "https://h\x7f")
def test_create_client_from_any_environment_string_builds_or_raises_configuration_error(
    variable: str, value: str
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, valid in VALID_ENV.items():
            mp.setenv(name, valid)
        mp.setenv(variable, value)
        try:
            client = sq.create_client()
        except sq.ConfigurationError:
            return
        assert isinstance(client, openai.OpenAI)
        client.close()


# --------------------------------------------------------------------------- the guard's fast path

_SQ_KEY = "sq-property-key-0123456789"
_AMBIENT_KEY = "sk-ambient-key-0123456789"
_HEADER_CHOICES = {
    "authorization": [None, f"Bearer {_SQ_KEY}", f"Bearer {_AMBIENT_KEY}", "Bearer other", "Basic abc"],
    "openai-organization": [None, "org-given", "org-ambient"],
    "openai-project": [None, "proj-given", "proj-ambient"],
    "x-corp": [None, "token", "other"],
}


@pytest.mark.parametrize("given_account", [False, True])
@pytest.mark.parametrize("custom_at_construction", [False, True])
@pytest.mark.parametrize(
    "custom_now", [None, "", "X-Corp: token", "Authorization: Bearer other\nX-Corp: other"]
)
@pytest.mark.parametrize("api_key_var", [False, True])
def test_a_request_the_fast_path_passes_is_one_cleaning_leaves_alone(
    monkeypatch: pytest.MonkeyPatch,
    given_account: bool,
    custom_at_construction: bool,
    custom_now: str | None,
    api_key_var: bool,
) -> None:
    # The guard skips Target.clean when Target.untouched says it would change nothing: that
    # must hold for every mix of given and ambient headers (each one once, or repeated, in two
    # orders) in each environment.
    account = {"OpenAI-Organization": "org-given", "OpenAI-Project": "proj-given"} if given_account else {}
    monkeypatch.delenv("OPENAI_CUSTOM_HEADERS", raising=False)
    if custom_at_construction:
        monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Corp: token")
    target = Target()
    target.register(OPENAI_AMBIENT, _SQ_KEY, None, account)
    monkeypatch.delenv("OPENAI_CUSTOM_HEADERS", raising=False)
    if custom_now is not None:
        monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", custom_now)
    if api_key_var:
        monkeypatch.setenv("OPENAI_API_KEY", _AMBIENT_KEY)
    else:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    passed = cleaned = 0
    for values in itertools.product(*_HEADER_CHOICES.values()):
        pairs = [
            (name, value) for name, value in zip(_HEADER_CHOICES, values, strict=True) if value is not None
        ]
        for repeated in [None, *range(len(pairs))]:
            with_repeat = pairs + ([pairs[repeated]] if repeated is not None else [])
            for order in (with_repeat, with_repeat[::-1]):
                headers = sdk_module().Headers(order)
                before = list(headers.raw)
                fast = target.untouched(*header_names(headers))
                target.clean(headers, sent_headers(headers))
                if fast:
                    assert list(headers.raw) == before, order
                    passed += 1
                cleaned += list(headers.raw) != before
    assert cleaned  # the combinations include headers to clean in every environment...
    if not custom_at_construction and custom_now is None:
        assert passed  # ...and, without custom headers, requests the fast path passes
