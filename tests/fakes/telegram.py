"""A fake Telegram Bot API server, answering as platforms.md §9 describes.

Routes (method names are case-insensitive, as on Telegram): ``/bot<token>/getMe``,
``getChat``, ``getChatMember``, ``sendMessage``, ``sendPhoto``.  Parameters are
read from JSON, form data or the query string alike.  Every answer uses the
envelope ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters"?}`` with the HTTP status equal to ``error_code``.

HTML parse mode is parsed here on its own, after TDLib's ``parse_html``
(``td/telegram/MessageEntity.cpp``): a closed set of tags, only ``&lt; &gt;
&amp; &quot;`` and numeric references, entities decoded inside quoted
attribute values too.  The visible text that results is what the limits are
counted on, so markup is free.

Switches for what is unverified or differs between set-ups:

- ``length_unit``: ``"utf16"`` (default, believed) or ``"codepoint"``;
- ``message_limit`` / ``caption_limit``: 4096 / 1024;
- ``unknown_entity``: ``"reject"`` (default: 400 can't parse entities, what
  platforms.md says) or ``"literal"`` (what TDLib's source does: the text
  ``&hellip;`` is shown as is);
- ``rate_limit(retry_after)``: 429 with ``parameters.retry_after`` for every send
  until ``clear_rate_limit``;
- ``token``: the one valid token (change it to "revoke" the old one);
- chats (``add_chat``), the bot's membership (``Chat.bot_status``,
  ``Chat.can_post``), ``migrate(chat, new_id)`` and ``photo_fails``.

Sent messages are kept in ``messages`` with their visible text and entities.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

from tests.fakes.server import FakeServer, Recorded, Reply

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

Unit = Literal["utf16", "codepoint"]


class ParseError(Exception):
    """Why Telegram "can't parse entities"."""


def visible_length(text: str, unit: Unit = "utf16") -> int:
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


@dataclass
class Entity:
    type: str
    offset: int
    length: int
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        return data


def parse_html(
    source: str, *, unit: Unit = "utf16", unknown_entity: str = "reject"
) -> tuple[str, list[Entity]]:
    """The visible text and the entities of ``source`` in HTML parse mode."""
    out: list[str] = []
    entities: list[Entity] = []
    # (tag, argument, offset of its text in ``unit``)
    stack: list[tuple[str, str, int]] = []
    offset = 0
    i = 0
    n = len(source)

    def byte_offset(position: int) -> int:
        return len(source[:position].encode("utf-8"))

    while i < n:
        char = source[i]
        if char == "&":
            decoded, end, name = _decode_entity(source, i)
            if decoded is not None:
                out.append(decoded)
                offset += visible_length(decoded, unit)
                i = end
                continue
            if name and unknown_entity == "reject":
                raise ParseError(
                    f'Unsupported HTML entity "&{name};" at byte offset {byte_offset(i)}'
                )
        if char != "<":
            out.append(char)
            offset += visible_length(char, unit)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and source[i] == "/":
            end = source.find(">", i)
            if end < 0:
                raise ParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            name = source[i + 1 : end].strip().lower()
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            tag, argument, start = stack.pop()
            if name and name != tag:
                raise ParseError(
                    f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            if offset > start:
                entities.append(
                    Entity(
                        _ENTITY_TYPES[tag],
                        start,
                        offset - start,
                        argument if tag == "a" else None,
                    )
                )
            i = end + 1
            continue

        name_start = i
        while i < n and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= n:
            raise ParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        tag = source[name_start:i].lower()
        if tag not in SUPPORTED_TAGS:
            raise ParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
        argument = ""
        while True:
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise ParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
            if source[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and not source[i].isspace() and source[i] not in "=>":
                i += 1
            attribute = source[attr_start:i].lower()
            while i < n and source[i].isspace():
                i += 1
            if i >= n or source[i] != "=":
                raise ParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {byte_offset(begin)}"
                )
            i += 1
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise ParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
            value: list[str] = []
            if source[i] in "\"'":
                quote = source[i]
                i += 1
                while i < n and source[i] != quote:
                    if source[i] == "&":
                        decoded, end, _name = _decode_entity(source, i)
                        if decoded is not None:
                            value.append(decoded)
                            i = end
                            continue
                    value.append(source[i])
                    i += 1
                i += 1
            else:
                token_start = i
                while i < n and (source[i].isalnum() or source[i] in ".-"):
                    i += 1
                value.append(source[token_start:i].lower())
                if i < n and not source[i].isspace() and source[i] != ">":
                    raise ParseError(
                        f"Unexpected end of name token at byte offset {byte_offset(token_start)}"
                    )
            if tag == "a" and attribute == "href":
                argument = "".join(value)
        stack.append((tag, argument, offset))

    if stack:
        raise ParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    entities.sort(key=lambda e: (e.offset, -e.length))
    return "".join(out), entities


def _decode_entity(source: str, i: int) -> tuple[str | None, int, str]:
    """``(character, index after it, name)``; character None if not understood."""
    j = i + 1
    if j < len(source) and source[j] == "#":
        j += 1
        hexadecimal = j < len(source) and source[j] in "xX"
        if hexadecimal:
            j += 1
        start = j
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while j < len(source) and source[j] in digits:
            j += 1
        if j == start:
            return None, i, ""
        point = int(source[start:j], 16 if hexadecimal else 10)
        if point == 0 or point >= 0x10FFFF:
            return None, i, ""
        if j < len(source) and source[j] == ";":
            j += 1
        return chr(point), j, ""
    while j < len(source) and source[j].isascii() and source[j].isalpha():
        j += 1
    name = source[i + 1 : j]
    if name not in _NAMED:
        return None, i, name
    if j < len(source) and source[j] == ";":
        j += 1
    return _NAMED[name], j, name


@dataclass
class Chat:
    id: int
    title: str
    type: str = "channel"
    username: str | None = None
    bot_status: str = "administrator"  # creator, administrator, member, left, kicked
    can_post: bool = True
    migrated_to: int | None = None
    next_message_id: int = 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "title": self.title, "type": self.type}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    method: str
    text: str  # visible text (the caption for a photo)
    entities: list[Entity]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def bold(self) -> list[str]:
        return [self._slice(e) for e in self.entities if e.type == "bold"]

    @property
    def links(self) -> list[tuple[str, str | None]]:
        return [(self._slice(e), e.url) for e in self.entities if e.type == "text_link"]

    def _slice(self, entity: Entity) -> str:
        # Offsets are UTF-16 units (the default unit).
        units = self.text.encode("utf-16-le")
        start, end = entity.offset * 2, (entity.offset + entity.length) * 2
        return units[start:end].decode("utf-16-le")


class FakeTelegram(FakeServer):
    name = "fake-telegram"

    def __init__(
        self,
        *,
        token: str = "5712345678:AAH-fake_TelegramToken-0123456789ab",
        bot_username: str = "crosspost_test_bot",
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.length_unit: Unit = "utf16"
        self.message_limit = 4096
        self.caption_limit = 1024
        self.unknown_entity: Literal["reject", "literal"] = "reject"
        self.photo_fails = False
        self.chats: dict[int, Chat] = {}
        self.messages: list[SentMessage] = []
        self._retry_after: int | None = None
        self.add_chat(Chat(id=-1001234567890, title="Crosspost News", username="crosspostnews"))
        self.add_chat(Chat(id=-1009876543210, title="Private Newsroom"))

    # ------------------------------------------------------------------ switches
    def add_chat(self, chat: Chat) -> Chat:
        self.chats[chat.id] = chat
        return chat

    def chat(self, ref: int | str) -> Chat | None:
        if isinstance(ref, str) and ref.startswith("@"):
            wanted = ref[1:].lower()
            return next(
                (c for c in self.chats.values() if (c.username or "").lower() == wanted), None
            )
        try:
            return self.chats.get(int(ref))
        except (TypeError, ValueError):
            return None

    def migrate(self, old_id: int, new_id: int) -> None:
        """A basic group upgraded to a supergroup: the old id now refuses posts."""
        old = self.chats[old_id]
        old.migrated_to = new_id
        self.add_chat(Chat(id=new_id, title=old.title, type="supergroup"))

    def rate_limit(self, retry_after: int) -> None:
        self._retry_after = retry_after

    def clear_rate_limit(self) -> None:
        self._retry_after = None

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.messages if m.chat_id == chat_id]

    # ------------------------------------------------------------------ routes
    def route(self, request: Recorded) -> Reply:
        parts = request.path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            return error(404, "Not Found")
        token, method = parts[1][3:], parts[2].lower()
        if token != self.token:
            return error(401, "Unauthorized")
        params = _params(request)
        if method == "getme":
            return ok(
                {
                    "id": self.bot_id,
                    "is_bot": True,
                    "first_name": "Crosspost",
                    "username": self.bot_username,
                    "can_join_groups": True,
                }
            )
        if method not in ("getchat", "getchatmember", "sendmessage", "sendphoto"):
            return error(404, "Not Found")
        chat = self.chat(params.get("chat_id", ""))
        if chat is None:
            return error(400, "Bad Request: chat not found")
        if method == "getchat":
            return ok(chat.to_json())
        if method == "getchatmember":
            return ok(self._member(chat, params.get("user_id")))
        return self._send(method, chat, params)

    def _member(self, chat: Chat, user_id: Any) -> dict[str, Any]:
        user = {"id": int(user_id or 0), "is_bot": True, "first_name": "Crosspost"}
        data: dict[str, Any] = {"user": user, "status": chat.bot_status}
        if chat.bot_status == "administrator" and chat.type == "channel":
            data["can_post_messages"] = chat.can_post
        return data

    def _send(self, method: str, chat: Chat, params: dict[str, Any]) -> Reply:
        if self._retry_after is not None:
            return error(
                429,
                f"Too Many Requests: retry after {self._retry_after}",
                {"retry_after": self._retry_after},
            )
        if chat.migrated_to is not None:
            return error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.bot_status == "kicked":
            return error(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if chat.bot_status == "left":
            return error(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        if chat.type == "channel" and (chat.bot_status == "member" or not chat.can_post):
            return error(400, "Bad Request: not enough rights to send text messages to the chat")

        photo = method == "sendphoto"
        source = str(params.get("caption" if photo else "text") or "")
        if str(params.get("parse_mode") or "").upper() == "HTML":
            try:
                text, entities = parse_html(
                    source, unit=self.length_unit, unknown_entity=self.unknown_entity
                )
            except ParseError as exc:
                return error(400, f"Bad Request: can't parse entities: {exc}")
        else:
            text, entities = source, []
        length = visible_length(text, self.length_unit)
        if photo:
            url = str(params.get("photo") or "")
            if not url.startswith(("http://", "https://")) or self.photo_fails:
                return error(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if length > self.caption_limit:
                return error(400, "Bad Request: message caption is too long")
        else:
            if not text.strip():
                return error(400, "Bad Request: message text is empty")
            if length > self.message_limit:
                return error(400, "Bad Request: message is too long")

        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            sent = SentMessage(chat.id, message_id, method, text, entities, params)
            self.messages.append(sent)
        result: dict[str, Any] = {
            "message_id": message_id,
            "sender_chat": chat.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
        }
        key = "caption" if photo else "text"
        if text:
            result[key] = text
        if entities:
            result[f"{key}_entities" if photo else "entities"] = [e.to_json() for e in entities]
        if photo:
            result["photo"] = [
                {"file_id": f"AgAC{message_id}", "file_unique_id": f"AQAD{message_id}", "width": 90}
            ]
        return ok(result)


def ok(result: Any) -> Reply:
    return Reply(200, {"ok": True, "result": result})


def error(status: int, description: str, parameters: dict[str, Any] | None = None) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(status, body)


def _params(request: Recorded) -> dict[str, Any]:
    """Telegram reads JSON, form data or the query string alike."""
    merged: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return merged
        if isinstance(data, dict):
            merged.update(data)
        return merged
    source = request.body.decode("utf-8", "replace") if request.body else ""
    merged.update({k: v[-1] for k, v in parse_qs(source).items()})
    return merged
