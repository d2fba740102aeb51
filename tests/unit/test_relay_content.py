"""What a relayed message looks like: attribution nobody can forge, clean HTML, no pings."""

from __future__ import annotations

import hashlib
import html
import json
import re
from typing import Any

import pytest

from bot.contract import Words
from bot.render import Message, Renderer
from commands.relay.content import (
    MARKER,
    PROFILE,
    Attribution,
    clean_html,
    clean_name,
    edit_content,
    edited_content,
    file_name,
    is_relayed_copy,
    kind_of,
    looks_like_a_bot,
    media_content,
    msgtype_of,
    neutralise,
    placeholder_content,
    text_content,
    thread_relation,
    title_of,
)
from commands.relay.copies import NO_ADDRESS, NOT_ACCEPTED, NOT_ENCRYPTED_HERE

_ENGLISH = Renderer()


def relay_footer(number: int, movement: str | None, link: str) -> Message:
    """The footer `commands.relay.copies.footer` renders, in an English room."""
    return _ENGLISH.render(
        "shared_copy_footer", {"number": number, "movement": movement, "link": link}
    )


def placeholder_sentence(content: dict[str, Any], reason: str) -> str:
    """The sentence `commands.relay.copies.placeholder_sentence` says, in an English room."""
    words = Words(
        "relay.copy_placeholder",
        {"kind": msgtype_of(content), "name": file_name(content), "reason": reason},
    )
    return _ENGLISH.say(words)


KEY = b"k" * 32
COMMONS = "commons"  # the word for the commons, rendered by the caller (commands.relay.copies)
ERIN = Attribution.of(
    commons=COMMONS, key=KEY, user_id="@erin:hs", display_name="Erin", movement="Climate Camp"
)
MARK = {"shared_thread": 1}
IN_THREAD = thread_relation("$root")
WJ = "\u2060"


def relay(content: dict[str, Any], by: Attribution = ERIN) -> dict[str, Any]:
    return text_content(content, by=by, marker=MARK, relation=IN_THREAD)


# -- attribution --------------------------------------------------------------------------------


def test_a_copy_is_attributed_in_the_profile_and_in_its_fallback() -> None:
    copy = relay({"msgtype": "m.text", "body": "We bring drums"})
    assert copy["body"] == "Erin · Climate Camp: We bring drums"
    assert copy["formatted_body"] == (
        "<strong data-mx-profile-fallback>Erin · Climate Camp: </strong>We bring drums"
    )
    assert copy[PROFILE] == {
        "id": ERIN.profile_id,
        "displayname": "Erin · Climate Camp",
        "has_fallback": True,
    }
    assert copy["format"] == "org.matrix.custom.html"
    assert copy["m.mentions"] == {}
    assert copy[MARKER] == MARK
    assert copy["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$root"},
    }


def test_the_profile_id_is_keyed_and_two_members_with_one_name_are_told_apart() -> None:
    bare = hashlib.sha256(b"@erin:hs").hexdigest()[:16]
    assert bare not in ERIN.profile_id  # a guessed user id cannot be checked against it
    other_key = Attribution.of(
        commons=COMMONS,
        key=b"o" * 32,
        user_id="@erin:hs",
        display_name="Erin",
        movement="Climate Camp",
    )
    assert other_key.profile_id != ERIN.profile_id
    twin = Attribution.of(
        commons=COMMONS,
        key=KEY,
        user_id="@erin:hs",
        display_name="Erin",
        movement="Climate Camp",
        name_taken=True,
    )
    assert twin.label == "Erin (@erin:hs) · Climate Camp"
    assert ERIN.label == "Erin · Climate Camp"


def test_the_profile_id_does_not_show_the_user_id() -> None:
    assert "erin" not in ERIN.profile_id
    assert (
        ERIN.profile_id
        == Attribution.of(
            commons=COMMONS, key=KEY, user_id="@erin:hs", display_name="E", movement="X"
        ).profile_id
    )
    assert (
        ERIN.profile_id
        != Attribution.of(
            commons=COMMONS,
            key=KEY,
            user_id="@eve:hs",
            display_name="Erin",
            movement="Climate Camp",
        ).profile_id
    )


def test_the_prefix_goes_inside_a_first_paragraph() -> None:
    copy = relay(
        {
            "msgtype": "m.text",
            "body": "hi",
            "format": "org.matrix.custom.html",
            "formatted_body": "<p>hi</p><p>there</p>",
        }
    )
    assert copy["formatted_body"] == (
        "<p><strong data-mx-profile-fallback>Erin · Climate Camp: </strong>hi</p><p>there</p>"
    )


def test_an_emote_reads_as_the_person_doing_it() -> None:
    copy = relay({"msgtype": "m.emote", "body": "waves"})
    assert copy["msgtype"] == "m.emote"
    assert copy["body"] == "Erin · Climate Camp waves"


def test_a_person_without_a_display_name_is_shown_by_their_localpart() -> None:
    plain = Attribution.of(
        commons=COMMONS, key=KEY, user_id="@dan:hs", display_name=None, movement="Farmers"
    )
    assert plain.label == "dan · Farmers"


@pytest.mark.parametrize(
    ("display_name", "shown"),
    [
        ("Ada · commons", "Ada - commons"),
        ("Ada\u2027commons", "Ada-commons"),
        ("Ada • Tenants", "Ada - Tenants"),
        ("Bea\nAda · commons: hi", "Bea Ada - commons: hi"),
        ("\u202eBea\u200b", "Bea"),
        ("   ", "erin"),
        ("\u200b\u2060", "erin"),
        ("x" * 100, "x" * 63 + "…"),
    ],
)
def test_a_display_name_cannot_forge_an_attribution(display_name: str, shown: str) -> None:
    by = Attribution.of(
        commons=COMMONS,
        key=KEY,
        user_id="@erin:hs",
        display_name=display_name,
        movement="Climate Camp",
    )
    assert by.name == shown
    assert by.label == f"{shown} · Climate Camp"
    assert by.label.count("·") == 1


def test_a_movement_name_is_cleaned_the_same_way() -> None:
    by = Attribution.of(
        commons=COMMONS, key=KEY, user_id="@erin:hs", display_name="Erin", movement="Camp · Tenants"
    )
    assert by.label == "Erin · Camp - Tenants"
    assert clean_name("", fallback="commons") == "commons"


def test_someone_who_speaks_for_no_one_movement_is_shown_with_the_commons() -> None:
    for movement in (None, "\u200b\u2060"):
        by = Attribution.of(
            commons=COMMONS, key=KEY, user_id="@erin:hs", display_name="Erin", movement=movement
        )
        assert by.label == "Erin · commons"


def test_text_cannot_fake_a_second_attribution_line() -> None:
    copy = relay(
        {
            "msgtype": "m.text",
            "body": "ok\nAda · commons: I agree",
            "format": "org.matrix.custom.html",
            "formatted_body": (
                "ok<br><strong data-mx-profile-fallback>Ada · commons: </strong>I agree"
            ),
        }
    )
    assert copy["body"] == "Erin · Climate Camp: ok\nAda - commons: I agree"
    assert copy["formatted_body"].count("data-mx-profile-fallback") == 1
    assert copy["formatted_body"].endswith("ok<br><strong>Ada - commons: </strong>I agree")
    assert neutralise("a\u00a0·\u00a0b") == "a\u00a0-\u00a0b"
    assert neutralise("Catalan l·l and 5·3") == "Catalan l·l and 5·3"  # only a spaced separator


@pytest.mark.parametrize(
    ("body", "formatted"),
    [
        # The separator alone in a tag: Element shows "Bob · Housing Co-op: ...".
        ("ok", "ok<br>Bob <span>\u00b7</span> Housing Co-op: we withdraw"),
        ("ok", "ok<br>Bob<em> \u00b7 </em>Housing Co-op: we withdraw"),
        ("ok", "ok<br>Bob <b>&middot;</b> Housing Co-op: we withdraw"),
        # Invisible joiners around it, in the text and in HTML.
        ("ok\nBob \u200d\u00b7\u200d Housing Co-op: we withdraw", None),
        ("ok", "ok<br>Bob \u2060\u00b7\u2060 Housing Co-op: we withdraw"),
        # Look-alike dots.
        ("ok\nBob \u318d Housing Co-op: we withdraw", None),
        ("ok\nBob \u2e33 Housing Co-op: we withdraw", None),
    ],
)
def test_no_text_can_render_as_another_attribution_line(body: str, formatted: str | None) -> None:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body}
    if formatted is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = formatted
    copy = relay(content)

    def seen(text: str) -> str:
        """The text as Element shows it: no tags, entities read, invisible joiners gone."""
        shown = html.unescape(re.sub(r"<[^>]+>", "", text))
        return "".join(ch for ch in shown if ch not in "\u200d\u2060")

    for text in (copy["body"], copy["formatted_body"]):
        assert not re.search("Bob [\u00b7\u318d\u2e33] Housing", seen(text)), text
    assert "Bob - Housing Co-op: we withdraw" in seen(copy["formatted_body"])


def test_separators_without_spaces_and_inside_words_stay() -> None:
    assert (
        clean_html("Catalan l<b>\u00b7</b>l and 5\u00b73") == "Catalan l<b>\u00b7</b>l and 5\u00b73"
    )
    assert clean_html("\u2022 first<br>\u2022 second") == "- first<br>- second"


# -- mentions -----------------------------------------------------------------------------------


def test_at_room_becomes_plain_text_in_every_spelling() -> None:
    copy = relay(
        {
            "msgtype": "m.text",
            "body": "@room hello @ROOM and @Room!",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>@room</b> hello @ROOM and @Room!",
        }
    )
    assert "@room" not in copy["body"].lower()
    assert copy["body"].endswith(f"@{WJ}room hello @{WJ}ROOM and @{WJ}Room!")
    assert "@room" not in copy["formatted_body"].lower()
    assert f"<b>@{WJ}room</b>" in copy["formatted_body"]
    assert neutralise("@roomba stays") == "@roomba stays"


@pytest.mark.parametrize(
    "href",
    [
        "https://matrix.to/#/@ada:hs",
        "https://matrix.to/#/%40ada%3Ahs",
        "https://matrix.to/#/#general:hs",
        "https://matrix.to/#/!room:hs/$event?via=hs",
        "matrix:u/ada:hs",
        "HTTPS://MATRIX.TO/#/@ada:hs",
    ],
)
def test_pills_become_their_plain_text(href: str) -> None:
    cleaned = clean_html(f'Ask <a href="{href}">Ada</a>, then <a href="https://example.org">us</a>')
    assert cleaned == 'Ask Ada, then <a href="https://example.org">us</a>'


def test_a_nested_pill_keeps_the_markup_around_it() -> None:
    assert clean_html('<b><a href="https://matrix.to/#/@a:hs"><i>Ada</i></a> ok</b>') == (
        "<b><i>Ada</i> ok</b>"
    )


def test_mentions_are_empty_even_when_the_original_pinged_people() -> None:
    copy = relay(
        {"msgtype": "m.text", "body": "hi", "m.mentions": {"room": True, "user_ids": ["@a:hs"]}}
    )
    assert copy["m.mentions"] == {}


# -- hostile HTML -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ('<script>alert("x")</script>ok', "ok"),
        ("<style>body{display:none}</style>ok", "ok"),
        ('<iframe src="https://evil.example">inside</iframe>ok', "ok"),
        ("<mx-reply><blockquote>quoted <b>x</b></blockquote></mx-reply>answer", "answer"),
        ('<img src="https://evil.example/t.png">ok', "ok"),
        (
            '<img src="mxc://hs/abc" onerror="x()" alt="cat" width="20">',
            '<img src="mxc://hs/abc" alt="cat" width="20">',
        ),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        (
            '<a href=" https://example.org " onclick="x()" target="_top">x</a>',
            '<a href="https://example.org">x</a>',
        ),
        ('<b style="color:red" class="x">b</b>', "<b>b</b>"),
        ('<font color="#ff0000" data-mx-bg-color="red">f</font>', '<font color="#ff0000">f</font>'),
        ('<span data-mx-spoiler="@room">s</span>', f'<span data-mx-spoiler="@{WJ}room">s</span>'),
        ('<code class="language-python evil">x</code>', "<code>x</code>"),
        ('<code class="language-python">x</code>', '<code class="language-python">x</code>'),
        ('<ol start="3"><li>a</li></ol>', '<ol start="3"><li>a</li></ol>'),
        ("<marquee>moving</marquee>", "moving"),
        ("<b><i>unclosed", "<b><i>unclosed</i></b>"),
        ("stray</b> close", "stray close"),
        ("<p>a<br/>b<hr></p>", "<p>a<br>b<hr></p>"),
        ("a &lt;script&gt; &amp; b", "a &lt;script&gt; &amp; b"),
        ('<svg><a href="https://x.example">in svg</a></svg>after', "after"),
        ("<script><script>x</script>y</script>z", "yz"),
        ("<!-- comment -->text<!DOCTYPE html>", "text"),
        ('<a href="https://e.org" title="x">t</a>', '<a href="https://e.org">t</a>'),
        (
            '<img src="mxc://hs/a" alt="&quot;><script>">',
            '<img src="mxc://hs/a" alt="&quot;&gt;&lt;script&gt;">',
        ),
    ],
)
def test_hostile_html_is_cleaned_to_what_element_keeps(dirty: str, clean: str) -> None:
    assert clean_html(dirty) == clean


def test_every_tag_element_keeps_survives() -> None:
    kept = (
        "<del>d</del><h1>h</h1><h6>h</h6><blockquote>q</blockquote><p>p</p><ul><li>u</li></ul>"
        "<sup>s</sup><sub>s</sub><b>b</b><i>i</i><u>u</u><strong>s</strong><em>e</em><s>s</s>"
        "<code>c</code><pre>p</pre><div>d</div><table><caption>c</caption><thead><tr><th>h</th>"
        "</tr></thead><tbody><tr><td>d</td></tr></tbody></table><details><summary>s</summary>"
        "x</details><strike>s</strike>"
    )
    assert clean_html(kept) == kept


def test_deep_nesting_is_cut_but_the_text_stays() -> None:
    cleaned = clean_html("<b>" * 100 + "deep" + "</b>" * 100)
    assert "deep" in cleaned
    assert cleaned.count("<b>") == cleaned.count("</b>") <= 40


def test_a_message_without_html_gets_escaped_html() -> None:
    copy = relay({"msgtype": "m.text", "body": "a <b>not bold</b>\nline & more"})
    assert copy["formatted_body"].endswith("a &lt;b&gt;not bold&lt;/b&gt;<br>line &amp; more")


def test_html_that_cleans_to_nothing_falls_back_to_the_body() -> None:
    copy = relay(
        {
            "msgtype": "m.text",
            "body": "hello",
            "format": "org.matrix.custom.html",
            "formatted_body": "<script>x</script>",
        }
    )
    assert copy["formatted_body"].endswith("</strong>hello")


def test_the_reply_fallback_of_old_clients_is_dropped() -> None:
    copy = relay(
        {
            "msgtype": "m.text",
            "body": "> <@ada:hs> original\n\nmy answer",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$x"}},
        }
    )
    assert copy["body"] == "Erin · Climate Camp: my answer"


def test_a_very_long_message_is_cut() -> None:
    copy = relay({"msgtype": "m.text", "body": "x" * 70_000})
    assert len(copy["body"]) < 17_000
    assert copy["body"].endswith("…")


# -- what is relayed ----------------------------------------------------------------------------


def test_kinds_of_messages() -> None:
    assert kind_of({"msgtype": "m.text", "body": "x"}) == "text"
    assert kind_of({"msgtype": "m.notice", "body": "x"}) == "text"
    assert kind_of({"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}) == "text"
    assert kind_of({"msgtype": "m.image", "body": "x.png"}) == "media"
    assert kind_of({"msgtype": "m.audio"}) == "media"
    assert kind_of({"body": "no msgtype"}) is None
    assert kind_of({"msgtype": "m.text"}) is None


def test_relayed_copies_are_recognised_so_they_never_loop() -> None:
    copy = relay({"msgtype": "m.text", "body": "x"})
    assert is_relayed_copy(copy)
    assert is_relayed_copy(edit_content(relay({"msgtype": "m.text", "body": "x"}), copy_of="$c"))
    assert not is_relayed_copy({"msgtype": "m.text", "body": "x"})


@pytest.mark.parametrize(
    ("user_id", "name", "bot"),
    [
        ("@helpbot:hs", None, True),
        ("@bot:hs", None, True),
        ("@reminder-bot:hs", "Reminders", True),
        ("@gh:hs", "GitHub Bot", True),
        ("@abbott:hs", "Abbott", False),
        ("@erin:hs", "Erin", False),
    ],
)
def test_bots_are_told_apart_by_their_names(user_id: str, name: str | None, bot: bool) -> None:
    assert looks_like_a_bot(user_id, name) is bot


def test_a_title_is_the_first_words() -> None:
    assert title_of(
        {"msgtype": "m.text", "body": "one two three four five six seven eight nine"}
    ) == ("one two three four five six seven eight …")
    assert title_of({"msgtype": "m.image", "body": "photo.jpg"}) == "photo.jpg"
    assert title_of({"msgtype": "m.text", "body": "  "}) == ""  # the caller words it


# -- the first message of a shared thread -------------------------------------------------------


def test_the_first_message_links_back_to_the_original() -> None:
    footer = relay_footer(3, "Climate Camp", "https://matrix.to/#/!a:hs/$e?via=hs")
    copy = text_content(
        {"msgtype": "m.text", "body": "Shall we march?"},
        by=ERIN,
        marker=MARK,
        relation=None,
        footer=footer,
    )
    assert "m.relates_to" not in copy  # a thread root carries no relation
    assert copy["body"] == (
        "Erin · Climate Camp: Shall we march?\n\n"
        "(Shared thread #3 from Climate Camp: https://matrix.to/#/!a:hs/$e?via=hs)"
    )
    assert copy["formatted_body"].endswith(
        '<p><em>Shared thread #3 from Climate Camp – <a href="https://matrix.to/#/!a:hs/$e?via=hs">'
        "see the original</a></em></p>"
    )


def test_the_footer_escapes_what_it_repeats_in_html() -> None:
    footer = relay_footer(3, '<b>Camp</b> & "co"', 'https://x.example/"><script>')
    assert footer.body == '(Shared thread #3 from <b>Camp</b> & "co": https://x.example/"><script>)'
    assert "<b>" not in footer.html
    assert "<script>" not in footer.html
    assert footer.html == (
        "<p><em>Shared thread #3 from &lt;b&gt;Camp&lt;/b&gt; &amp; &#34;co&#34; – "
        '<a href="https://x.example/&#34;&gt;&lt;script&gt;">see the original</a></em></p>'
    )


def test_a_thread_from_the_commons_says_so_in_its_footer() -> None:
    assert relay_footer(1, None, "https://l").body == "(Shared thread #1 from commons: https://l)"


# -- attachments --------------------------------------------------------------------------------

ENCRYPTED_FILE = {
    "url": "mxc://hs/cipher",
    "key": {
        "kty": "oct",
        "alg": "A256CTR",
        "ext": True,
        "k": "KEY",
        "key_ops": ["encrypt", "decrypt"],
    },
    "iv": "IV",
    "hashes": {"sha256": "HASH"},
    "v": "v2",
}


def test_an_image_is_resent_by_its_address_with_attribution() -> None:
    copy = media_content(
        {
            "msgtype": "m.image",
            "body": "dot.png",
            "url": "mxc://hs/abc",
            "info": {
                "mimetype": "image/png",
                "size": 70,
                "w": 1,
                "h": 1,
                "evil": "<x>",
                "thumbnail_url": "https://evil.example",
            },
        },
        by=ERIN,
        marker=MARK,
        relation=IN_THREAD,
    )
    assert copy is not None
    assert copy["msgtype"] == "m.image"
    assert copy["url"] == "mxc://hs/abc"
    assert copy["filename"] == "dot.png"
    assert copy["body"] == "Erin · Climate Camp: dot.png"
    assert copy["info"] == {"mimetype": "image/png", "size": 70, "w": 1, "h": 1}
    assert copy[PROFILE]["displayname"] == "Erin · Climate Camp"
    assert copy["m.mentions"] == {}


def test_a_caption_is_kept_and_cleaned() -> None:
    copy = media_content(
        {"msgtype": "m.image", "body": "look @room", "filename": "dot.png", "url": "mxc://hs/a"},
        by=ERIN,
        marker=MARK,
        relation=IN_THREAD,
    )
    assert copy is not None
    assert copy["body"] == f"Erin · Climate Camp: look @{WJ}room"
    assert copy["filename"] == "dot.png"


def test_an_encrypted_file_keeps_its_key_for_an_encrypted_room() -> None:
    copy = media_content(
        {"msgtype": "m.file", "body": "plan.pdf", "file": {**ENCRYPTED_FILE, "extra": 1}},
        by=ERIN,
        marker=MARK,
        relation=IN_THREAD,
    )
    assert copy is not None
    assert copy["file"] == ENCRYPTED_FILE
    assert "url" not in copy


def test_an_attachment_without_an_address_is_not_built() -> None:
    for content in (
        {"msgtype": "m.image", "body": "x.png"},
        {"msgtype": "m.image", "body": "x.png", "url": "https://evil.example/x.png"},
        {"msgtype": "m.image", "body": "x.png", "file": {"url": "mxc://hs/a"}},
    ):
        assert media_content(content, by=ERIN, marker=MARK, relation=IN_THREAD) is None


def test_a_placeholder_names_the_sender_and_the_kind_of_file() -> None:
    video = {"msgtype": "m.video", "body": "demo.mp4", "file": ENCRYPTED_FILE}
    copy = placeholder_content(
        by=ERIN,
        marker=MARK,
        relation=IN_THREAD,
        sentence=placeholder_sentence(video, NOT_ENCRYPTED_HERE),
    )
    assert copy["msgtype"] == "m.notice"
    assert copy["body"] == (
        "Erin · Climate Camp: sent a video (demo.mp4), which cannot be shown here: it comes "
        "from an encrypted room and this room is not encrypted."
    )
    assert copy["formatted_body"] == (
        "<strong data-mx-profile-fallback>Erin · Climate Camp: </strong><em>sent a video "
        "(demo.mp4), which cannot be shown here: it comes from an encrypted room and this room "
        "is not encrypted.</em>"
    )
    assert "file" not in copy
    assert "url" not in copy
    assert copy["m.mentions"] == {}
    assert copy[MARKER] == MARK


@pytest.mark.parametrize(
    ("content", "reason", "sentence"),
    [
        (
            {"msgtype": "m.image", "body": "dot.png"},
            NOT_ACCEPTED,
            "sent an image (dot.png), which cannot be shown here: this room did not accept the "
            "attachment.",
        ),
        (
            {"msgtype": "m.audio", "body": "talk.ogg"},
            NO_ADDRESS,
            "sent an audio recording (talk.ogg), which cannot be shown here: the attachment's "
            "address is missing.",
        ),
        (
            {"msgtype": "m.file"},
            NOT_ACCEPTED,
            "sent a file, which cannot be shown here: this room did not accept the attachment.",
        ),
    ],
)
def test_a_placeholder_says_what_was_sent_and_why_it_cannot_be_shown(
    content: dict[str, Any], reason: str, sentence: str
) -> None:
    assert placeholder_sentence(content, reason) == sentence


def test_a_placeholder_escapes_the_file_name_in_html() -> None:
    nasty = {"msgtype": "m.file", "body": "<img src=x onerror=alert(1)>.pdf"}
    copy = placeholder_content(
        by=ERIN,
        marker=MARK,
        relation=IN_THREAD,
        sentence=placeholder_sentence(nasty, NOT_ACCEPTED),
    )
    assert "<img src=x onerror=alert(1)>.pdf" in copy["body"]
    assert "<img" not in copy["formatted_body"]
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in copy["formatted_body"]


# -- edits --------------------------------------------------------------------------------------


def test_an_edit_replaces_the_bots_copy_with_the_full_new_content() -> None:
    new = relay({"msgtype": "m.text", "body": "fixed @room"})
    new.pop("m.relates_to")
    edit = edit_content(new, copy_of="$copy")
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$copy"}
    assert edit["body"] == f"* Erin · Climate Camp: fixed @{WJ}room"
    assert edit["formatted_body"].startswith("* <strong data-mx-profile-fallback>")
    assert edit["m.new_content"]["body"] == f"Erin · Climate Camp: fixed @{WJ}room"
    assert edit["m.new_content"][PROFILE]["displayname"] == "Erin · Climate Camp"
    assert edit["m.new_content"]["m.mentions"] == {}
    assert "m.relates_to" not in edit["m.new_content"]
    assert edit["m.mentions"] == {}
    assert edit[MARKER] == MARK


def test_an_edit_of_a_thread_message_drops_the_thread_relation_from_the_new_content() -> None:
    built = relay({"msgtype": "m.text", "body": "x"})
    edit = edit_content(built, copy_of="$copy")
    assert "m.relates_to" not in edit["m.new_content"]
    assert edit["m.relates_to"]["rel_type"] == "m.replace"


def test_the_new_content_of_an_edit_is_read_only_when_well_formed() -> None:
    assert edited_content({"m.new_content": {"body": "x"}}) == {"body": "x"}
    assert edited_content({"m.new_content": "x"}) is None
    assert edited_content({}) is None


# -- size -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["&" * 100_000, "\U0001f331" * 100_000, "plain words " * 10_000], ids=str.__len__
)
def test_a_huge_message_is_cut_so_its_copy_and_an_edit_of_it_fit_in_an_event(body: str) -> None:
    copy = relay({"msgtype": "m.text", "body": body})
    edit = edit_content(relay({"msgtype": "m.text", "body": body + "!"}), copy_of="$copy")
    assert len(json.dumps(copy)) < 30_000
    assert len(json.dumps(edit)) < 60_000  # a Matrix event holds 64 KiB in all
    assert copy["body"].startswith("Erin · Climate Camp: " + body[:100])
    assert copy["body"].endswith("…")


def test_a_msgtype_that_is_not_a_string_is_not_relayed() -> None:
    assert kind_of({"msgtype": ["m.text"], "body": "hi"}) is None
    assert kind_of({"msgtype": {"m.image": 1}, "body": "hi"}) is None
    assert relay({"msgtype": ["m.emote"], "body": "hi"})["msgtype"] == "m.text"
