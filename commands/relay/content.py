"""What a relayed message looks like: pure functions over plain data (no Matrix, no database).

Every copy the bot posts for someone else:

- is attributed ``<display name> · <movement>``, twice: in MSC4144's per-message profile
  (``com.beeper.per_message_profile``) and in its fallback, a ``<strong data-mx-profile-fallback>``
  prefix in ``formatted_body`` (and the same words at the start of ``body``), which Element shows;
- carries a marker (:data:`MARKER`) so no multilogue relays it again, and ``m.mentions: {}`` so
  it pings nobody;
- keeps the sender's formatting, cleaned to the HTML Element keeps (:func:`clean_html`).

Nothing a sender writes can forge the attribution: their display name is cleaned
(:func:`clean_name`: no line breaks, invisible or direction-changing characters, and the separator
``·`` and its look-alikes become ``-``); their text cannot contain a spaced separator either
(:func:`neutralise`, :func:`spaced_separators`: judged on the text as Element shows it, across
HTML tags and invisible characters); the fallback attribute is never kept from their HTML.
``@room`` becomes plain text (a word joiner after the ``@``) and pills (``matrix.to`` /
``matrix:`` links) become their plain text, so nothing pings or looks like a mention across
rooms.

Edits are copies too (:func:`edit_content`, an ``m.replace`` of the bot's copy); redactions need
no content. Images and files are re-sent by their ``mxc://`` address (the encrypted ones with their
decryption key, which lives in the event, never in the media); :func:`placeholder_content` names
the sender and the kind of file where an attachment cannot go.

The bot's own words in a copy (the word for the commons, a placeholder's sentence, the footer
under a shared thread's first message) come from templates, rendered by the caller
(`commands.relay.copies`) and passed in: this module writes none itself.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Final, Literal

from bot.events import strip_reply_fallback
from bot.render import Message

MARKER: Final = "org.multilogue.relay"
PROFILE: Final = "com.beeper.per_message_profile"
SEPARATOR: Final = " · "
HTML_FORMAT: Final = "org.matrix.custom.html"

TEXT_TYPES: Final = frozenset({"m.text", "m.emote", "m.notice"})
MEDIA_TYPES: Final = frozenset({"m.image", "m.file", "m.video", "m.audio"})
NAME_MAX: Final = 64
BODY_MAX: Final = 16_000
HTML_MAX: Final = 32_000
TEXT_BUDGET: Final = 24_000
"""Bytes of JSON a copy's text may take (body and HTML together). A Matrix event holds 64 KiB,
and an edit of a copy carries its text twice (the fallback and `m.new_content`)."""
TITLE_WORDS: Final = 8
TITLE_MAX: Final = 60

# The separator of the attribution line and the characters that look like it.
_SEPARATORS: Final = (
    "\u00b7\u0387\u16eb\u2022\u2027\u2219\u22c5\u2981\u2e30\u2e31\u2e33\u30fb\u318d"
    "\ua78f\uff65\u1427\U00010101"
)
_SEPARATOR_SET: Final = frozenset(_SEPARATORS)
_SEPARATOR_ANYWHERE = re.compile(f"[{_SEPARATORS}]")
# Characters that are invisible or change the direction of the text around them.
_INVISIBLE = re.compile(
    "[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
_AT_ROOM = re.compile(r"@(room)\b", re.IGNORECASE)
_WORD_JOINER: Final = "\u2060"
_BOTLIKE = re.compile(r"(?<![a-z])bot|bot(?![a-z])", re.IGNORECASE)


# -- names and plain text -----------------------------------------------------------------------


def clean_name(text: str, *, fallback: str = "") -> str:
    """A display or movement name safe to show in an attribution line; `fallback`, cleaned the
    same way, when nothing of `text` is left."""
    cleaned = re.sub(r"\s+", " ", _INVISIBLE.sub("", re.sub(r"[\r\n\t]", " ", text)))
    cleaned = _SEPARATOR_ANYWHERE.sub("-", cleaned).strip()
    if len(cleaned) > NAME_MAX:
        cleaned = cleaned[: NAME_MAX - 1].rstrip() + "…"
    if cleaned or not fallback:
        return cleaned
    return clean_name(fallback)


def neutralise(text: str) -> str:
    """Text as relayed: `@room` no longer pings, no spaced separator can fake an attribution."""
    chars = list(_no_room_ping(text))
    for index in spaced_separators(chars):
        chars[index] = "-"
    return "".join(chars)


def _no_room_ping(text: str) -> str:
    return _AT_ROOM.sub(f"@{_WORD_JOINER}\\1", text)


def spaced_separators(chars: Sequence[str]) -> list[int]:
    """Where a separator (``·`` or a look-alike) stands between spaces, as the attribution's
    ``Name · Movement`` has it: the characters to replace so no text can fake one.

    Invisible characters around it do not count (a zero-width joiner is not a letter), and
    the ends of the text count as spaces; ``chars`` may hold ``"\\n"`` for a line break that
    HTML makes.
    """
    return [
        index
        for index, char in enumerate(chars)
        if char in _SEPARATOR_SET
        and _space_beside(chars, index, -1)
        and _space_beside(chars, index, 1)
    ]


def _space_beside(chars: Sequence[str], index: int, step: int) -> bool:
    """Whether the nearest visible character on one side is a space (or there is none)."""
    at = index + step
    while 0 <= at < len(chars) and not chars[at].isspace() and _INVISIBLE.fullmatch(chars[at]):
        at += step
    return not 0 <= at < len(chars) or chars[at].isspace()


def text_to_html(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def looks_like_a_bot(user_id: str, display_name: str | None) -> bool:
    """Whether a sender is probably a bot (`@helpbot:hs`, "Reminder Bot"), by its names.

    Used only for `m.notice` messages, which by convention only bots send.
    """
    localpart = user_id[1:].partition(":")[0]
    return bool(_BOTLIKE.search(localpart) or (display_name and _BOTLIKE.search(display_name)))


# -- HTML ---------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ALLOWED_TAGS: Final = _words(
    "del h1 h2 h3 h4 h5 h6 blockquote p a ul ol sup sub li b i u strong em s code hr br div "
    "table thead tbody tr th td caption pre span img details summary font strike"
)
_VOID: Final = frozenset({"br", "hr", "img"})
_DROPPED_WITH_CONTENT: Final = _words(
    "mx-reply script style head title iframe object embed applet svg math template noscript "
    "textarea select button form frameset noframes noembed canvas audio video"
)
_LINK_SCHEMES: Final = ("http://", "https://", "ftp://", "mailto:", "magnet:")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NUMBER = re.compile(r"^[0-9]{1,5}$")
_CODE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,40}$")
_MAX_DEPTH: Final = 40
_SKIPPED_LINK: Final = "#pill"


def is_pill(href: str) -> bool:
    """A link Element shows as a pill: to a user, room or event, on matrix.to or `matrix:`."""
    lowered = href.strip().lower()
    return lowered.startswith(("https://matrix.to/#/", "http://matrix.to/#/", "matrix:"))


def _allowed_attributes(tag: str, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    for name, raw in attrs:
        value = raw or ""
        name = name.lower()
        if (tag in ("font", "span") and name in ("data-mx-color", "data-mx-bg-color")) or (
            tag == "font" and name == "color"
        ):
            if _COLOUR.match(value):
                kept.append((name, value))
        elif tag == "span" and name == "data-mx-spoiler":
            kept.append((name, neutralise(_cut(value, 200))))
        elif tag in ("span", "div") and name == "data-mx-maths":
            kept.append((name, _cut(value, 2000)))
        elif tag == "a" and name == "href":
            if value.strip().lower().startswith(_LINK_SCHEMES):
                kept.append((name, value.strip()))
        elif tag == "img" and name in ("alt", "title"):
            kept.append((name, neutralise(_cut(value, 200))))
        elif (tag == "img" and name in ("width", "height")) or (tag == "ol" and name == "start"):
            if _NUMBER.match(value):
                kept.append((name, value))
        elif tag == "code" and name == "class" and _CODE_CLASS.match(value):
            kept.append((name, value))
    return kept


_BREAKS_LINE: Final = re.compile(
    r"</?(br|p|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|pre|hr|table|caption|details|summary)\b"
)


@dataclass
class _Text:
    """A run of text in cleaned HTML, kept unescaped until the whole message is seen."""

    chars: list[str]


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str | _Text] = []
        # Allowed tags written and not yet closed; a pill left out (its text stays) is kept
        # here as SKIPPED_LINK so that its end tag is left out too.
        self.open: list[str] = []
        self.dropping: list[str] = []  # a tag whose content is left out too (and its nesting)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if self.dropping:
            if tag == self.dropping[0] and tag not in _VOID:
                self.dropping.append(tag)
            return
        if tag in _DROPPED_WITH_CONTENT:
            self.dropping.append(tag)
            return
        if tag not in ALLOWED_TAGS or len(self.open) >= _MAX_DEPTH:
            return
        if tag == "a":
            href = next((v or "" for k, v in attrs if k.lower() == "href"), "")
            if is_pill(href):
                self.open.append(_SKIPPED_LINK)
                return
        if tag == "img":
            src = next((v or "" for k, v in attrs if k.lower() == "src"), "")
            if not src.startswith("mxc://"):
                return
            kept = [("src", src), *_allowed_attributes(tag, attrs)]
        else:
            kept = _allowed_attributes(tag, attrs)
        rendered = "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in kept)
        self.out.append(f"<{tag}{rendered}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if self.dropping:
            if tag == self.dropping[0]:
                self.dropping.pop()
            return
        wanted = _SKIPPED_LINK if tag == "a" and self._innermost_a_skipped() else tag
        if wanted not in self.open:
            return
        while self.open:
            closing = self.open.pop()
            if closing != _SKIPPED_LINK:
                self.out.append(f"</{closing}>")
            if closing == wanted:
                break

    def _innermost_a_skipped(self) -> bool:
        for name in reversed(self.open):
            if name in ("a", _SKIPPED_LINK):
                return name == _SKIPPED_LINK
        return False

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(_Text(list(_no_room_ping(data))))

    def result(self) -> str:
        self.close()
        while self.open:
            closing = self.open.pop()
            if closing != _SKIPPED_LINK:
                self.out.append(f"</{closing}>")
        self._neutralise_separators()
        return "".join(
            html.escape("".join(piece.chars), quote=False) if isinstance(piece, _Text) else piece
            for piece in self.out
        ).strip()

    def _neutralise_separators(self) -> None:
        """A spaced separator is judged on the text as Element shows it, across tags:
        ``Bob <span>·</span> Camp:`` is as much a fake attribution as ``Bob · Camp:``."""
        chars: list[str] = []
        spots: list[tuple[_Text, int] | None] = []
        for piece in self.out:
            if isinstance(piece, _Text):
                chars.extend(piece.chars)
                spots.extend((piece, offset) for offset in range(len(piece.chars)))
            elif _BREAKS_LINE.match(piece):
                chars.append("\n")
                spots.append(None)
        for index in spaced_separators(chars):
            spot = spots[index]
            if spot is not None:
                spot[0].chars[spot[1]] = "-"


def clean_html(source: str) -> str:
    """HTML reduced to what Element keeps, with text neutralised (see :func:`neutralise`).

    Unknown tags are left out but their text stays; scripts, styles, reply fallbacks
    (`mx-reply`) and the like go with their content; attributes are kept only where Element
    uses them (colours, links to the web, `mxc://` images, list starts, code languages).
    """
    cleaner = _Cleaner()
    cleaner.feed(source)
    return cleaner.result()


# -- attribution --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    """Who wrote a relayed message: `name · movement` (the movement, or the word for the
    commons)."""

    name: str
    movement: str
    profile_id: str

    @classmethod
    def of(
        cls,
        *,
        user_id: str,
        display_name: str | None,
        movement: str | None,
        commons: str,
        key: bytes,
        name_taken: bool = False,
    ) -> Attribution:
        """Names cleaned; `profile_id` an opaque stand-in for the user id (never shown), keyed
        with the bot's secret `key` so no one can match it against a guessed user id. When
        another member of the room has the same display name (`name_taken`), the user id is
        shown after it, so the two are told apart. `movement` None: the writer speaks for the
        commons, shown as `commons` (the word for it, also shown for a movement whose name is
        nothing but invisible characters)."""
        fallback = user_id[1:].partition(":")[0] or user_id
        digest = hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:16]
        name = clean_name(display_name or "", fallback=fallback)
        if display_name and name_taken:
            name = f"{name} ({clean_name(user_id)})"
        return cls(
            name=name,
            movement=clean_name(movement or "", fallback=commons),
            profile_id=f"multilogue-{digest}",
        )

    @property
    def label(self) -> str:
        return f"{self.name}{SEPARATOR}{self.movement}"

    def profile(self) -> dict[str, Any]:
        return {"id": self.profile_id, "displayname": self.label, "has_fallback": True}


def thread_relation(root: str, *, reply_to: str | None = None) -> dict[str, Any]:
    """An event in the thread of `root`, replying to `reply_to` if it is a real reply."""
    if reply_to is not None:
        return {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": False,
            "m.in_reply_to": {"event_id": reply_to},
        }
    return {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }


# -- what can be relayed ------------------------------------------------------------------------

Kind = Literal["text", "media"]


def msgtype_of(content: Mapping[str, Any]) -> str | None:
    """The message's `msgtype`, if it is a string at all (clients may send anything)."""
    msgtype = content.get("msgtype")
    return msgtype if isinstance(msgtype, str) else None


def kind_of(content: Mapping[str, Any]) -> Kind | None:
    """`media` for images and files, `text` for anything with a text body, None otherwise."""
    msgtype = msgtype_of(content)
    if msgtype in MEDIA_TYPES:
        return "media"
    if isinstance(content.get("body"), str) and msgtype is not None:
        return "text"
    return None


def is_relayed_copy(content: Mapping[str, Any]) -> bool:
    """Content some multilogue already relayed (never relayed again: no loops)."""
    new_content = content.get("m.new_content")
    return MARKER in content or (isinstance(new_content, Mapping) and MARKER in new_content)


def media_is_encrypted(content: Mapping[str, Any]) -> bool:
    return isinstance(content.get("file"), Mapping)


def title_of(content: Mapping[str, Any]) -> str:
    """The first words of a message, for lists; "" when it has none."""
    if msgtype_of(content) in MEDIA_TYPES:
        text = str(content.get("filename") or content.get("body") or "")
    else:
        text = strip_reply_fallback(str(content.get("body") or ""))
    words = clean_name(text, fallback="-").split()
    title = " ".join(words[:TITLE_WORDS])
    if len(words) > TITLE_WORDS:
        title += " …"
    return _cut(title, TITLE_MAX) if title and title != "-" else ""


# -- building copies ----------------------------------------------------------------------------


def _fallback_prefix(label: str) -> str:
    return f"<strong data-mx-profile-fallback>{html.escape(label, quote=False)}</strong>"


def _with_prefix(prefix: str, rich: str) -> str:
    strong = _fallback_prefix(prefix)
    if rich.startswith("<p>"):
        return f"<p>{strong}{rich[3:]}"
    return strong + rich


def _text_parts(content: Mapping[str, Any]) -> tuple[str, str]:
    """The message's text as relayed: (plain, HTML), cleaned and neutralised."""
    body = str(content.get("body") or "")
    relation = content.get("m.relates_to")
    if isinstance(relation, Mapping) and isinstance(relation.get("m.in_reply_to"), Mapping):
        body = strip_reply_fallback(body)
    plain = _cut(neutralise(body), BODY_MAX)
    formatted = content.get("formatted_body")
    rich = ""
    if content.get("format") == HTML_FORMAT and isinstance(formatted, str):
        rich = clean_html(formatted)
    if not rich or len(rich) > HTML_MAX:
        rich = text_to_html(plain)
    if _json_size(plain) + _json_size(rich) <= TEXT_BUDGET:
        return plain, rich
    return _fitted(plain)


def _json_size(text: str) -> int:
    """Bytes the text takes in an event's JSON (escapes and non-ASCII included, at worst)."""
    return len(json.dumps(text))


def _fitted(plain: str) -> tuple[str, str]:
    """The longest cut of `plain` whose text and HTML fit `TEXT_BUDGET` (the HTML is rebuilt
    from the cut text: markup cannot be cut safely)."""
    shortest, longest = 0, len(plain)
    while shortest < longest:
        tried = (shortest + longest + 1) // 2
        cut = _cut(plain, tried)
        if _json_size(cut) + _json_size(text_to_html(cut)) <= TEXT_BUDGET:
            shortest = tried
        else:
            longest = tried - 1
    cut = _cut(plain, shortest)
    return cut, text_to_html(cut)


def _base(
    *, by: Attribution, marker: Mapping[str, Any], relation: Mapping[str, Any] | None
) -> dict[str, Any]:
    content: dict[str, Any] = {"m.mentions": {}, PROFILE: by.profile(), MARKER: dict(marker)}
    if relation is not None:
        content["m.relates_to"] = dict(relation)
    return content


def text_content(
    content: Mapping[str, Any],
    *,
    by: Attribution,
    marker: Mapping[str, Any],
    relation: Mapping[str, Any] | None,
    footer: Message | None = None,
) -> dict[str, Any]:
    """A text, emote or notice (or anything with a body) as relayed; `footer` (rendered by the
    caller) goes under a shared thread's first message."""
    msgtype = msgtype_of(content)
    msgtype = msgtype if msgtype in TEXT_TYPES else "m.text"
    plain, rich = _text_parts(content)
    # An emote reads "* Ada · Camp waves"; everything else "Ada · Camp: hello".
    prefix = f"{by.label} " if msgtype == "m.emote" else f"{by.label}: "
    return {
        "msgtype": msgtype,
        "body": prefix + plain + _footer_text(footer),
        "format": HTML_FORMAT,
        "formatted_body": _with_prefix(prefix, rich) + _footer_html(footer),
        **_base(by=by, marker=marker, relation=relation),
    }


def _footer_text(footer: Message | None) -> str:
    return f"\n\n{footer.body}" if footer is not None else ""


def _footer_html(footer: Message | None) -> str:
    return footer.html if footer is not None else ""


def _mxc(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith("mxc://") else None


def _encrypted_file(value: Any) -> dict[str, Any] | None:
    """The parts of an EncryptedFile (spec: url, key, iv, hashes, v) that are well formed."""
    if not isinstance(value, Mapping) or _mxc(value.get("url")) is None:
        return None
    key, hashes = value.get("key"), value.get("hashes")
    if not isinstance(key, Mapping) or not isinstance(hashes, Mapping):
        return None
    if not isinstance(value.get("iv"), str):
        return None
    return {
        "url": value["url"],
        "key": dict(key),
        "iv": value["iv"],
        "hashes": dict(hashes),
        "v": str(value.get("v", "v2")),
    }


def _media_info(value: Any, *, encrypted: bool) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    info: dict[str, Any] = {}
    if isinstance(value.get("mimetype"), str):
        info["mimetype"] = _cut(value["mimetype"], 100)
    for key in ("size", "w", "h", "duration"):
        number = value.get(key)
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            info[key] = number
    thumbnail_info = value.get("thumbnail_info")
    if isinstance(thumbnail_info, Mapping):
        info["thumbnail_info"] = _media_info(thumbnail_info, encrypted=encrypted)
    if encrypted:
        thumbnail_file = _encrypted_file(value.get("thumbnail_file"))
        if thumbnail_file is not None:
            info["thumbnail_file"] = thumbnail_file
    elif _mxc(value.get("thumbnail_url")):
        info["thumbnail_url"] = value["thumbnail_url"]
    return info


def file_name(content: Mapping[str, Any]) -> str:
    """The attachment's file name as people should see it (neutralised, cut short)."""
    name = content.get("filename") or content.get("body") or ""
    return _cut(neutralise(clean_name(str(name), fallback="-")), 120) if name else ""


def media_content(
    content: Mapping[str, Any],
    *,
    by: Attribution,
    marker: Mapping[str, Any],
    relation: Mapping[str, Any] | None,
    footer: Message | None = None,
) -> dict[str, Any] | None:
    """An image or file re-sent by its address; None when the event holds no usable address."""
    msgtype = msgtype_of(content)
    if msgtype not in MEDIA_TYPES:
        return None
    encrypted_file = _encrypted_file(content.get("file"))
    url = _mxc(content.get("url"))
    if encrypted_file is None and url is None:
        return None
    filename = file_name(content) or "file"
    body = str(content.get("body") or "")
    given_name = content.get("filename")
    if isinstance(given_name, str) and body and body != given_name:  # MSC2530: body is a caption
        plain, rich = _text_parts(content)
    else:
        plain, rich = filename, text_to_html(filename)
    prefix = f"{by.label}: "
    relayed: dict[str, Any] = {
        "msgtype": msgtype,
        "body": prefix + plain + _footer_text(footer),
        "filename": filename,
        "format": HTML_FORMAT,
        "formatted_body": _with_prefix(prefix, rich) + _footer_html(footer),
        "info": _media_info(content.get("info"), encrypted=encrypted_file is not None),
        **_base(by=by, marker=marker, relation=relation),
    }
    if encrypted_file is not None:
        relayed["file"] = encrypted_file
    else:
        relayed["url"] = url
    return relayed


def placeholder_content(
    *,
    by: Attribution,
    marker: Mapping[str, Any],
    relation: Mapping[str, Any] | None,
    sentence: str,
    footer: Message | None = None,
) -> dict[str, Any]:
    """In place of an attachment that cannot go: `sentence` (plain text, rendered by the caller)
    says who sent what kind of file, and why it cannot go."""
    prefix = f"{by.label}: "
    return {
        "msgtype": "m.notice",
        "body": prefix + sentence + _footer_text(footer),
        "format": HTML_FORMAT,
        "formatted_body": _fallback_prefix(prefix)
        + f"<em>{html.escape(sentence, quote=False)}</em>"
        + _footer_html(footer),
        **_base(by=by, marker=marker, relation=relation),
    }


_EDIT_KEYS: Final = ("msgtype", "body", "format", "formatted_body", "filename", "info", "url")


def edit_content(new_content: dict[str, Any], *, copy_of: str) -> dict[str, Any]:
    """An edit of the bot's copy `copy_of` so that it reads `new_content` (a built copy).

    `new_content` is what :func:`text_content`, :func:`media_content` or
    :func:`placeholder_content` built for the edited message, without a relation.
    """
    inner = {k: v for k, v in new_content.items() if k != "m.relates_to"}
    edit: dict[str, Any] = {k: inner[k] for k in _EDIT_KEYS if k in inner}
    if "file" in inner:
        edit["file"] = inner["file"]
    edit["body"] = "* " + str(inner.get("body", ""))
    if "formatted_body" in inner:
        edit["formatted_body"] = "* " + str(inner["formatted_body"])
    edit.update(
        {
            "m.new_content": inner,
            "m.relates_to": {"rel_type": "m.replace", "event_id": copy_of},
            "m.mentions": {},
            PROFILE: inner.get(PROFILE),
            MARKER: inner.get(MARKER),
        }
    )
    return edit


def edited_content(content: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The new content an edit event carries (`m.new_content`), if well formed."""
    new_content = content.get("m.new_content")
    return new_content if isinstance(new_content, Mapping) else None
