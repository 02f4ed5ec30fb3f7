"""Telegram: one channel message per delivery, through the Bot API.

A bot made with @BotFather, made an administrator of the channel, calls
``sendMessage`` (text with a link preview of the post) or, when the account
asks for photos and the post has a featured image, ``sendPhoto`` with the
image URL and the text as its caption.

The token is part of every URL (``/bot<token>/<method>``), so no message we
build ever contains a URL; what Telegram answers is redacted as well.

Text is sent with ``parse_mode: HTML``: the title bold and the link a real
``<a href>``.  Telegram counts its limits (4096, 1024 for a caption) on the
visible text *after* parsing, so the markup costs nothing and the composer
counts the plain text it composed.  Only ``&lt; &gt; &amp; &quot;`` and
numeric references are understood; the composer already decoded WordPress's
entities, so we only need to escape ``& < >`` (and ``"`` in attributes).

The Bot API has no idempotency and a bot cannot read a channel's history, so
an unclear outcome cannot be checked: it becomes ``unconfirmed`` for a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict, SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.clock import utcnow
from worker.compose.length import TELEGRAM_CAPTION, TELEGRAM_MESSAGE, LengthRule
from worker.errors import (
    AmbiguousError,
    AuthError,
    PublishError,
    RateLimitedError,
    RejectedError,
)
from worker.models import CheckResult, ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.platforms.base import Adapter, PlatformFacts

log = logging.getLogger(__name__)

# "123456789:AAE..." - the bot's id, a colon, then the secret part.
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
# Public usernames are 5-32 characters: a letter, then letters, digits, "_".
_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_T_ME = re.compile(r"^(?:https?://)?(?:t\.me|telegram\.me)/([A-Za-z][A-Za-z0-9_]{3,31})/?$")
_PRIVATE_PREFIX = "-100"

# 400 descriptions meaning Telegram could not use the photo URL; nothing was
# posted, so the text goes out as a plain message instead.
_PHOTO_PROBLEMS = (
    "wrong file identifier",
    "http url",
    "wrong type of the web page content",
    "image_process_failed",
    "photo_invalid",
    "photo_save_file_invalid",
    "failed to get",
    "wrong remote file",
)
# 400/403 descriptions that a channel administrator must fix.
_RIGHTS_PROBLEMS = (
    "not enough rights",
    "administrator rights",
    "not a member",
    "was kicked",
    "have no rights",
)


class TelegramSettings(AccountSettings):
    # Validation errors must not echo the token back.
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["telegram"] = "telegram"
    bot_token: SecretStr
    chat_id: str  # "@channelname" or the numeric id, "-100..." for channels
    api_url: str = "https://api.telegram.org"
    # Send the featured image with the text as its caption (1024 limit) instead
    # of a text message with a link preview (4096 limit).
    send_photo: bool = False
    disable_notification: bool = False

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise ValueError("is empty")
        if not _TOKEN.match(token):
            # Never quote the value: it is (nearly) a secret.
            raise ValueError(
                "does not look like a bot token from @BotFather "
                "(digits, a colon, then letters, digits, '-' or '_')"
            )
        return SecretStr(token)

    @field_validator("chat_id")
    @classmethod
    def _chat_shape(cls, value: str) -> str:
        chat = value.strip()
        link = _T_ME.match(chat)
        if link:
            return f"@{link.group(1)}"
        if re.fullmatch(r"-?\d+", chat):
            if int(chat) >= 0:
                raise ValueError(
                    f"{chat!r} is a user's id; a channel's numeric id is negative, "
                    "like -1001234567890"
                )
            return chat
        if _USERNAME.match(chat):
            return chat
        hint = f"; did you mean '@{chat}'?" if _USERNAME.match(f"@{chat}") else ""
        raise ValueError(
            f"must be the channel's @username or its numeric id like -1001234567890; "
            f"got {chat!r}{hint}"
        )

    @field_validator("api_url")
    @classmethod
    def _api_origin(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"must be an http(s) URL like https://api.telegram.org; got {value!r}")
        return value


class TelegramAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="telegram",
        title="Telegram",
        text_limit=TELEGRAM_MESSAGE.limit,
        counting="UTF-16 code units of the visible text after HTML parsing; 1024 as a caption",
        link_card=False,  # Telegram fetches the preview (OpenGraph) itself
        images=True,
        idempotent=False,
    )
    settings_model: ClassVar[type[AccountSettings]] = TelegramSettings

    settings: TelegramSettings

    def setup(self) -> None:
        # Telegram's retry_after is relative; tests pin "now" to compare exactly.
        self.now: Callable[[], datetime] = utcnow

    # ------------------------------------------------------------------ helpers
    def _url(self, method: str) -> str:
        return f"{self.settings.api_url}/bot{self.settings.bot_token.get_secret_value()}/{method}"

    def _env(self, field: str) -> str:
        return f"ACCOUNTS__{self.name.upper()}__{field}"

    @property
    def _chat(self) -> int | str:
        chat = self.settings.chat_id
        return int(chat) if chat.lstrip("-").isdigit() else chat

    def _call(self, method: str, body: dict[str, Any]) -> httpx.Response:
        return self.request("POST", self._url(method), json=body, follow_redirects=False)

    # ------------------------------------------------------------------ length
    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        """The caption limit when this post will go out as a photo, else the
        message limit.  Without a post: the rule for a post with an image."""
        if self.settings.send_photo and (post is None or _photo_of(post) is not None):
            return TELEGRAM_CAPTION
        return TELEGRAM_MESSAGE

    # ------------------------------------------------------------------ publish
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        photo = _photo_of(delivery.post) if self.settings.send_photo else None
        if photo is not None and not TELEGRAM_CAPTION.fits(message.text):
            # Composed before send_photo was switched on: too long for a
            # caption, so it goes out as a message rather than failing.
            log.info(
                "telegram account %s: text too long for a caption; sending without the photo",
                self.name,
            )
            photo = None
        html = True
        # At most three requests: each retry below follows a 400, which means
        # Telegram made no message, and switches off one feature for good.
        while True:
            method = "sendPhoto" if photo is not None else "sendMessage"
            response = self._call(method, self._body(message, photo, html=html))
            if response.status_code == 200:
                return self._result(response, method)
            description = _description(response).lower()
            if response.status_code == 400 and html and "can't parse entities" in description:
                # Our escaping is meant to make this impossible; if Telegram's
                # parser disagrees, the same visible text still goes out plain.
                log.warning(
                    "telegram account %s: Telegram could not parse our HTML (%s); sent as "
                    "plain text. Please report this with the post's title and excerpt.",
                    self.name,
                    self.redact(_description(response)),
                )
                html = False
                continue
            if (
                response.status_code == 400
                and photo is not None
                and any(word in description for word in _PHOTO_PROBLEMS)
            ):
                log.warning(
                    "telegram account %s: Telegram could not use the featured image %s (%s); "
                    "sending the text with a link preview instead",
                    self.name,
                    photo,
                    self.redact(_description(response)),
                )
                photo = None
                continue
            raise self._error(response, method=method, message=message)

    def _body(self, message: ComposedMessage, photo: str | None, *, html: bool) -> dict[str, Any]:
        text = render_html(message) if html else message.text
        body: dict[str, Any] = {"chat_id": self._chat}
        if photo is not None:
            body.update(photo=photo, caption=text)
        else:
            # The preview is of the post even if the text holds other URLs.
            body.update(text=text, link_preview_options={"url": message.link})
        if html:
            body["parse_mode"] = "HTML"
        if self.settings.disable_notification:
            body["disable_notification"] = True
        return body

    def _result(self, response: httpx.Response, method: str) -> PublishResult:
        data = _json_or_none(response)
        result = data.get("result") if isinstance(data, dict) and data.get("ok") else None
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            # Probably posted, but we cannot tell which message it is.
            raise AmbiguousError(f"Telegram answered {method} without a message_id")
        chat = result.get("chat") if isinstance(result, dict) else None
        return PublishResult(remote_id=str(message_id), remote_url=message_url(chat, message_id))

    def _error(
        self, response: httpx.Response, *, method: str, message: ComposedMessage | None = None
    ) -> PublishError:
        data = _json_or_none(response)
        envelope = data if isinstance(data, dict) else {}
        code = envelope.get("error_code")
        status = code if isinstance(code, int) and not isinstance(code, bool) else 0
        status = status or response.status_code
        reason = self.redact(_description(response))
        lowered = reason.lower()
        parameters = envelope.get("parameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        chat = self.settings.chat_id

        retry_after = parameters.get("retry_after")
        if status == 429 or isinstance(retry_after, int | float):
            retry_at = None
            if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
                retry_at = self.now() + timedelta(seconds=float(retry_after))
            return RateLimitedError(f"Telegram rate limit reached ({status}: {reason})", retry_at)
        migrated = parameters.get("migrate_to_chat_id")
        if isinstance(migrated, int) and not isinstance(migrated, bool):
            return RejectedError(
                f"the group {chat} became a supergroup with the id {migrated}; "
                f"set {self._env('CHAT_ID')}={migrated} ({status}: {reason})"
            )
        if status == 401:
            return AuthError(
                f"Telegram refused the bot token ({status}: {reason}); it was revoked or "
                f"mistyped: get the current one from @BotFather and set {self._env('BOT_TOKEN')}"
            )
        if status == 404:
            # What Telegram answers for a token it does not know the shape of,
            # and what a wrong API_URL gives.
            return AuthError(
                f"Telegram does not know this bot or method ({status}: {reason}); "
                f"check {self._env('BOT_TOKEN')} and {self._env('API_URL')}"
            )
        if status == 403 or any(word in lowered for word in _RIGHTS_PROBLEMS):
            return AuthError(
                f"the bot may not post to {chat} ({status}: {reason}); make the bot an "
                "administrator of the channel with the right to post messages"
            )
        if "chat not found" in lowered:
            return RejectedError(
                f"Telegram does not know the chat {chat} ({status}: {reason}); check "
                f"{self._env('CHAT_ID')} (a @username, or the -100... id) and that the bot "
                "was added to the channel"
            )
        if "too long" in lowered and message is not None:
            rule = TELEGRAM_CAPTION if method == "sendPhoto" else TELEGRAM_MESSAGE
            return RejectedError(
                f"Telegram refused the text as too long ({status}: {reason}); it has "
                f"{rule.length(message.text)} UTF-16 units of visible text, the limit is "
                f"{rule.limit}"
            )
        if "can't parse entities" in lowered:
            return RejectedError(
                f"Telegram could not parse the message's HTML ({status}: {reason}); please "
                "report this with the post's title and excerpt"
            )
        if status >= 500:
            # The message may or may not exist, and nothing can tell us which.
            return AmbiguousError(f"Telegram failed while handling {method} ({status}: {reason})")
        return RejectedError(f"Telegram refused {method} ({status}: {reason})")

    # ------------------------------------------------------------------ check
    def check(self) -> CheckResult:
        try:
            me = self._call("getMe", {})
            if me.status_code != 200:
                return CheckResult(ok=False, detail=self._error(me, method="getMe").message)
            bot = _result_dict(me)
            bot_id, username = bot.get("id"), bot.get("username")
            if not isinstance(bot_id, int) or not username:
                return CheckResult(ok=False, detail="Telegram answered getMe without a bot")

            chat_response = self._call("getChat", {"chat_id": self._chat})
            if chat_response.status_code != 200:
                error = self._error(chat_response, method="getChat")
                return CheckResult(ok=False, detail=f"@{username}: {error.message}")
            chat = _result_dict(chat_response)
            kind = str(chat.get("type") or "chat")
            title = str(chat.get("title") or chat.get("username") or self.settings.chat_id)

            member = self._call("getChatMember", {"chat_id": self._chat, "user_id": bot_id})
            if member.status_code != 200:
                error = self._error(member, method="getChatMember")
                return CheckResult(ok=False, detail=f"@{username}: {error.message}")
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(exc.message))

        problem = _posting_problem(kind, _result_dict(member))
        if problem:
            return CheckResult(
                ok=False,
                detail=f"@{username} {problem} in the {kind} {title!r}; make the bot an "
                "administrator of the channel with the right to post messages",
            )
        return CheckResult(ok=True, detail=f"@{username} can post to the {kind} {title!r}")


# ---------------------------------------------------------------------- HTML


def escape_text(text: str) -> str:
    """Plain text for HTML parse mode: only ``& < >`` are special there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(value: str) -> str:
    # Telegram decodes entities inside quoted attribute values, so "&lt" in a
    # query string would otherwise turn into "<".
    return escape_text(value).replace('"', "&quot;")


def render_html(message: ComposedMessage) -> str:
    """The composed text as HTML whose visible text is exactly ``message.text``:
    the leading title bold and every copy of the post's link an ``<a href>``."""
    text = message.text
    head = ""
    title = message.title.strip()
    if title and text.startswith(title) and message.link not in title:
        head = f"<b>{escape_text(title)}</b>"
        text = text[len(title) :]
    if not message.link:
        return head + escape_text(text)
    anchor = f'<a href="{escape_attribute(message.link)}">{escape_text(message.link)}</a>'
    return head + anchor.join(escape_text(part) for part in text.split(message.link))


# ---------------------------------------------------------------------- answers


def message_url(chat: Any, message_id: int) -> str | None:
    """``t.me/<username>/<id>`` for a public chat; ``t.me/c/<id>/<id>`` for a
    private channel or supergroup (only its members can open it); none for a
    basic group."""
    if not isinstance(chat, dict):
        return None
    username = chat.get("username")
    if isinstance(username, str) and username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith(_PRIVATE_PREFIX) and chat_id[len(_PRIVATE_PREFIX) :].isdigit():
        return f"https://t.me/c/{chat_id[len(_PRIVATE_PREFIX) :]}/{message_id}"
    return None


def _photo_of(post: SourcePost) -> str | None:
    image = post.featured_image
    if image is None or not image.url.startswith(("http://", "https://")):
        return None
    return image.url


def _posting_problem(kind: str, member: dict[str, Any]) -> str | None:
    status = member.get("status")
    if kind == "channel":
        if status not in ("administrator", "creator"):
            return f"is not an administrator (status {status!r})"
        if status == "administrator" and member.get("can_post_messages") is False:
            return "is an administrator without the right to post messages"
        return None
    if status in ("left", "kicked"):
        return f"is not a member (status {status!r})"
    if status == "restricted" and member.get("can_send_messages") is False:
        return "may not send messages"
    return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _result_dict(response: httpx.Response) -> dict[str, Any]:
    data = _json_or_none(response)
    result = data.get("result") if isinstance(data, dict) else None
    return result if isinstance(result, dict) else {}


def _description(response: httpx.Response) -> str:
    """Telegram's ``description``, or a short single-line piece of the body."""
    data = _json_or_none(response)
    if isinstance(data, dict) and isinstance(data.get("description"), str):
        text: str = data["description"]
        return text[:300]
    snippet = " ".join(response.text.split())[:200]
    return snippet or response.reason_phrase or "no details"
