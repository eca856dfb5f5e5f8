# ruff: noqa: RUF001 (the talks are in Chinese, with its own punctuation)
"""Talks in scripts written without spaces (Chinese, Japanese) or with marks of their own
(Hindi): quotes are sentences, linking to the second each is said, and a text without any
space is cut into chunks of their usual size."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.conftest import Account
from tests.api.talks import embed_queued, upload_captions
from tests.api.test_chat import ask, new_conversation

TEA = [
    "大家好，今天我们来聊一聊怎么泡一杯好茶。",
    "首先，水温非常重要。",
    "绿茶的水温最好在八十度左右。",
    "如果水太热，茶叶会被烫坏，味道会变苦。",
    "第二点是茶叶的用量。",
    "一般来说，三克茶叶配一百五十毫升的水。",
    "第三点是浸泡的时间。",
    "绿茶泡两到三分钟就可以了。",
    "红茶可以泡得久一点，大概四到五分钟。",
    "谢谢大家，下次再见！",
]
GREAT_WALL = [
    "接下来我们换一个话题，聊聊长城的历史。",
    "长城最早修建于春秋战国时期。",
    "秦始皇统一中国以后，把各国的城墙连接了起来。",
    "我们今天看到的大部分长城是明朝修建的。",
    "明长城全长大约八千八百五十公里。",
    "修建长城用了大量的砖、石头和糯米灰浆。",
    "长城上每隔一段距离就有一座烽火台。",
    "八达岭长城是游客最多的一段。",
    "慕田峪长城人比较少，风景也很美。",
    "好，长城就说到这里。",
]
STEP = 10  # seconds between cues
LENGTH_SAID_AT = (len(TEA) + 4) * STEP  # "明长城全长…"


def srt(cues: list[str]) -> str:
    def stamp(seconds: float) -> str:
        return f"00:{int(seconds) // 60:02d}:{int(seconds) % 60:02d},000"

    return "\n".join(
        f"{n}\n{stamp((n - 1) * STEP)} --> {stamp(n * STEP - 1)}\n{cue}\n"
        for n, cue in enumerate(cues, start=1)
    )


async def test_a_chinese_quote_is_a_sentence_linking_to_the_second_it_is_said(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    await upload_captions(client, alice, "chineseTalk", srt(TEA + GREAT_WALL))
    await embed_queued(session)  # full-text search reads no word of Chinese: meaning finds it
    conversation = await new_conversation(client, alice)

    answer = (await ask(client, alice, conversation, "明长城有多长？")).json()["assistant_message"]

    quoted = [line[2:] for line in answer["content"].splitlines() if line.startswith("- ")]
    assert quoted, answer["content"]
    assert all(len(line) < 80 for line in quoted), quoted  # sentences, not minutes of speech
    said = next(line for line in quoted if "八千八百五十公里" in line)
    number = int(said.rsplit("[", 1)[1].rstrip("]"))
    citation = next(c for c in answer["metadata"]["citations"] if c["number"] == number)
    assert citation["moment_seconds"] == LENGTH_SAID_AT


async def test_a_text_without_spaces_is_cut_into_chunks_of_the_usual_size(
    client: httpx.AsyncClient, alice: Account
) -> None:
    text = "".join(TEA + GREAT_WALL) * 20  # 6,000 characters, not one space
    stored = await client.post(
        "/api/v1/transcripts",
        json={"video": "pastedZhTxt", "transcript_text": text},
        headers=alice.headers,
    )
    chunks = await client.get(
        f"/api/v1/transcripts/{stored.json()['id']}/chunks", headers=alice.headers
    )

    assert stored.status_code == 201, stored.text
    sizes = [chunk["token_count"] for chunk in chunks.json()["items"]]
    assert len(sizes) > 1
    assert max(sizes) <= 1000, sizes
    # The chunks are cut at sentences; the transcript is kept as it was sent.
    detail = await client.get(f"/api/v1/transcripts/{stored.json()['id']}", headers=alice.headers)
    assert detail.json()["transcript_text"] == text


async def test_timed_captions_without_spaces_are_kept_as_they_were_sent(
    client: httpx.AsyncClient, alice: Account
) -> None:
    said = ["数据库很慢。我们加了索引。", "现在很快。" + "数据库索引" * 300]
    segments = [{"text": text, "start": 5.0 * n, "duration": 5.0} for n, text in enumerate(said)]
    stored = await client.post(
        "/api/v1/transcripts",
        json={"video": "timedZhText", "segments": segments},
        headers=alice.headers,
    )
    detail = await client.get(f"/api/v1/transcripts/{stored.json()['id']}", headers=alice.headers)

    assert stored.status_code == 201, stored.text
    assert detail.json()["transcript_text"] == " ".join(said)
    assert [s["text"] for s in detail.json()["metadata"]["segments"]] == said
