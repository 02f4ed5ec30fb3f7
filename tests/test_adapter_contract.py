"""The contract every network adapter keeps, checked by walking the registry.

Each adapter declares its facts and its settings, keeps its secrets in
``SecretStr`` fields, and turns *every* answer a network might give, however
malformed, into a ``PublishError`` of one of the six kinds, never another
exception and never a false success.  A new adapter gets these checks by
being registered; it only has to say here how to configure it against a
local server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.fakes.server import FakeServer, Recorded, Reply, free_port
from worker.accounts import AccountSettings
from worker.errors import FailureKind, PublishError
from worker.models import ComposedMessage, DeliveryRef, FeaturedImage, SourcePost
from worker.platforms.base import Adapter
from worker.platforms.registry import ADAPTERS

TOKEN = "contract-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="

# How to point each network's account at a local server ``base``.
EXAMPLES: dict[str, Callable[[str], dict[str, Any]]] = {
    "mastodon": lambda base: {"base_url": base, "access_token": TOKEN},
    "bluesky": lambda base: {"identifier": "alice.test", "app_password": TOKEN, "pds_url": base},
    "webhook": lambda base: {"url": f"{base}/hook", "secret": WEBHOOK_SECRET},
    "x": lambda base: {
        "api_url": base,
        "api_key": TOKEN,
        "api_secret": TOKEN,
        "access_token": TOKEN,
        "access_token_secret": TOKEN,
    },
    "linkedin": lambda base: {
        "api_url": base,
        "access_token": TOKEN,
        "author_urn": "urn:li:organization:123",
    },
    "telegram": lambda base: {
        "api_url": base,
        "bot_token": f"123456:{TOKEN}",
        "chat_id": "@crosspostnews",
    },
    "discord": lambda base: {"webhook_url": f"{base}/api/webhooks/1234567890/{TOKEN}"},
    "facebook": lambda base: {"api_url": base, "page_id": "42", "page_access_token": TOKEN},
    "instagram": lambda base: {
        "api_url": base,
        "ig_user_id": "42",
        "access_token": TOKEN,
        "container_wait_seconds": 0.5,
        "container_poll_seconds": 0.1,
    },
    "threads": lambda base: {
        "api_url": base,
        "access_token": TOKEN,
        "container_wait_seconds": 0.5,
        "container_poll_seconds": 0.1,
    },
}

# Targets whose protocol makes any 2xx a success, whatever the body.
SUCCESS_ON_ANY_2XX = {"webhook"}

# What a network, a proxy or a broken gateway may answer.
HOSTILE_ANSWERS: list[tuple[int, str, dict[str, str]]] = [
    (400, '{"error": "bad"}', {}),
    (401, "", {}),
    (403, "<html>Forbidden</html>", {}),
    (404, "not json at all", {}),
    (409, "{}", {}),
    (413, "", {}),
    (422, '{"unexpected": ["shape"]}', {}),
    (429, "{}", {}),
    (429, "", {"Retry-After": "not-a-number"}),
    (500, "", {}),
    (502, "<html>Bad gateway</html>", {}),
    (503, '{"error": null}', {}),
    (200, "not json", {}),
    (200, "[]", {}),
    (201, "{}", {}),
]


class Hostile(FakeServer):
    """Answers every request the same, as set."""

    name = "hostile"

    def __init__(self) -> None:
        super().__init__()
        self.answer = Reply(500, "")

    def route(self, request: Recorded) -> Reply:
        return self.answer


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make(network: str, base: str, http: httpx.Client) -> Adapter:
    adapter_class = ADAPTERS[network]
    settings = adapter_class.settings_model.model_validate(
        {"network": network, **EXAMPLES[network](base)}
    )
    return adapter_class(f"contract-{network}", settings, http)


def post() -> SourcePost:
    moment = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    return SourcePost(
        site="news",
        post_id=15004,
        link="https://news.example/?p=15004",
        title_html="Iran&#8217;s budget",
        excerpt_html="<p>What changes [&hellip;]</p>",
        content_html="<p>Body.</p>",
        date_gmt=moment,
        modified_gmt=moment,
        tags=("Budget",),
        featured_image=FeaturedImage(url="https://news.example/a.jpg", alt="A chart"),
    )


def delivery(adapter: Adapter) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=1,
        account=adapter.name,
        attempt=1,
        idempotency_key=type(adapter).new_idempotency_key(),
        created_at=datetime(2026, 4, 19, 7, 31, tzinfo=UTC),
        post=post(),
    )


def message(adapter: Adapter) -> ComposedMessage:
    return adapter.compose(post())


NETWORKS = sorted(ADAPTERS)


def test_every_registered_network_has_an_example_here() -> None:
    assert set(EXAMPLES) == set(ADAPTERS)


@pytest.mark.parametrize("network", NETWORKS)
def test_facts_are_declared(network: str) -> None:
    adapter = ADAPTERS[network]
    facts = adapter.facts
    assert facts.network == network
    assert facts.title and facts.counting
    assert facts.text_limit > 0
    assert isinstance(facts.link_card, bool) and isinstance(facts.images, bool)
    assert isinstance(facts.idempotent, bool)
    assert issubclass(adapter.settings_model, AccountSettings)
    assert adapter.settings_model.model_fields["network"].default == network


@pytest.mark.parametrize("network", NETWORKS)
def test_credentials_are_secret_and_never_shown(network: str) -> None:
    settings = ADAPTERS[network].settings_model.model_validate(
        {"network": network, **EXAMPLES[network]("http://127.0.0.1:9")}
    )
    secret_fields = [
        name for name, value in settings.__dict__.items() if isinstance(value, SecretStr)
    ]
    assert secret_fields, f"{network} declares no secret"
    for name, field in type(settings).model_fields.items():
        if (
            any(word in name for word in ("token", "password", "secret"))
            and name != "token_expires"
        ):
            assert "SecretStr" in str(field.annotation), f"{network}.{name} is not a SecretStr"
    shown = f"{settings!r} {settings.model_dump_json()}"
    assert TOKEN not in shown


@pytest.mark.parametrize("network", NETWORKS)
def test_composed_message_fits_the_networks_count(network: str) -> None:
    with httpx.Client(timeout=2) as http:
        adapter = make(network, "http://127.0.0.1:9", http)
        long_post = SourcePost(
            **{**post().__dict__, "excerpt_html": "<p>" + "word " * 3000 + "</p>"}
        )
        composed = adapter.compose(long_post)
        assert adapter.length_rule(long_post).fits(composed.text)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize(
    ("status", "body", "headers"),
    HOSTILE_ANSWERS,
    ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(HOSTILE_ANSWERS)],
)
def test_every_answer_maps_to_a_failure_kind(
    network: str, status: int, body: str, headers: dict[str, str], hostile: Hostile
) -> None:
    hostile.answer = Reply(status, body, headers)
    with httpx.Client(timeout=3) as http:
        adapter = make(network, hostile.url, http)
        if network in SUCCESS_ON_ANY_2XX and 200 <= status < 300:
            # Standard Webhooks: any 2xx is the receiver's acceptance.
            result = adapter.publish(message(adapter), delivery(adapter))
            assert result.remote_id
            return
        with pytest.raises(PublishError) as caught:
            adapter.publish(message(adapter), delivery(adapter))
    error = caught.value
    assert isinstance(error.kind, FailureKind)
    assert error.message
    assert TOKEN not in str(error)


@pytest.mark.parametrize("network", NETWORKS)
def test_a_network_that_is_down_is_transient(network: str) -> None:
    with httpx.Client(timeout=2) as http:
        adapter = make(network, f"http://127.0.0.1:{free_port()}", http)
        with pytest.raises(PublishError) as caught:
            adapter.publish(message(adapter), delivery(adapter))
    assert caught.value.kind is FailureKind.TRANSIENT
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("network", NETWORKS)
def test_an_answer_lost_after_sending_is_never_a_success(network: str, hostile: Hostile) -> None:
    hostile.drop_after_processing(count=100)
    with httpx.Client(timeout=3) as http:
        adapter = make(network, hostile.url, http)
        with pytest.raises(PublishError) as caught:
            adapter.publish(message(adapter), delivery(adapter))
    assert caught.value.kind in (FailureKind.AMBIGUOUS, FailureKind.TRANSIENT)


@pytest.mark.parametrize("network", NETWORKS)
def test_check_reports_instead_of_raising(network: str, hostile: Hostile) -> None:
    hostile.answer = Reply(401, '{"error": "nope"}')
    with httpx.Client(timeout=3) as http:
        result = make(network, hostile.url, http).check()
    assert result.ok is False
    assert result.detail and TOKEN not in result.detail
