"""Collections, chapters and scoped conversations in a real browser, on the app as the client's
tests serve it (testkit/replayed_server.py): YouTube answers from replayed pages, where the COURSE
playlist lists three lessons with captions and one private video."""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, Route, expect

from testkit.replayed_server import COURSE, LESSONS
from tests.browser.conftest import screenshot, serving_the_app
from tests.browser.test_page import VIDEO_ID, new_email, sign_up, upload_captions

pytestmark = pytest.mark.slow

COURSE_LINK = f"https://www.youtube.com/playlist?list={COURSE.playlist_id}"
PRIVATE_ID = COURSE.videos[-1].video_id
LESSON_IDS = {lesson.video_id for lesson in LESSONS}


@pytest.fixture(scope="module")
async def live_server(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The app, listing and fetching YouTube from replayed answers."""
    async with serving_the_app(
        server_url, tmp_path_factory.mktemp("server"), module="testkit.replayed_server"
    ) as base_url:
        yield base_url


async def record_the_bars(page: Page) -> None:
    """Keeps every value a collection's bar shows, as "value/max", from now on."""
    await page.evaluate(
        """() => {
            window.barValues = [];
            const seen = (bar) => window.barValues.push(`${bar.value}/${bar.max}`);
            new MutationObserver((records) => {
                for (const record of records) {
                    if (record.type === "attributes") seen(record.target);
                    for (const node of record.addedNodes) {
                        if (node.querySelectorAll) node.querySelectorAll("progress").forEach(seen);
                    }
                }
            }).observe(document.getElementById("collection-list"), {
                childList: true, subtree: true, attributes: true, attributeFilter: ["value"],
            });
        }"""
    )


async def add_the_course(page: Page) -> Locator:
    await page.get_by_label("Playlist or channel link").fill(COURSE_LINK)
    await page.get_by_role("button", name="Add the collection").click()
    await expect(page.locator("#collection-form").get_by_role("status")).to_contain_text(
        "Added “Bread course”: 4 videos"
    )
    return page.locator("#collection-list li", has_text="Bread course")


async def test_a_playlist_becomes_a_collection_whose_bar_fills_live(page: Page) -> None:
    await sign_up(page, new_email())
    streams: list[str] = []
    page.on(
        "request", lambda request: streams.append(request.url) if "/events" in request.url else None
    )
    await record_the_bars(page)

    course = await add_the_course(page)

    bar = course.get_by_role("progressbar", name="Videos of Bread course fetched")
    await expect(bar).to_have_attribute("value", "4")
    await expect(bar).to_have_attribute("max", "4")
    await expect(course).to_contain_text("4 of 4 videos · 1 failed · finished")
    values = await page.evaluate("window.barValues")
    assert values[0] != "4/4", f"the bar was full from the start: {values}"
    assert values[-1] == "4/4"
    assert len(streams) == 1, "the bar moved without the collection's event stream"
    # The lessons reach the library on their own once the collection is ready.
    await expect(page.locator("#transcript-list")).to_contain_text("Lesson 3")
    await screenshot(page, "13-collection-ready")


async def test_a_failed_video_of_a_collection_shows_its_reason(page: Page) -> None:
    await sign_up(page, new_email())
    course = await add_the_course(page)

    show_failed = course.get_by_role("button", name="Failed videos (1)")
    await show_failed.click()

    await expect(show_failed).to_have_attribute("aria-expanded", "true")
    failures = course.get_by_role("list", name="Failed videos of Bread course")
    await expect(failures.locator("li")).to_have_count(1)
    await expect(failures).to_contain_text(PRIVATE_ID)
    await expect(failures.locator(".reason")).to_contain_text(re.compile("private", re.I))
    await screenshot(page, "14-collection-failed-video")

    await show_failed.click()
    await expect(failures).to_be_hidden()


async def test_a_collection_is_refreshed_and_deleted_once_you_confirm(page: Page) -> None:
    await sign_up(page, new_email())
    course = await add_the_course(page)
    await expect(course).to_contain_text("finished")

    await course.get_by_role("button", name="Refresh Bread course").click()
    await expect(course.get_by_role("status")).to_have_text(
        "Nothing new: every video is in already."
    )

    page.once("dialog", lambda dialog: dialog.dismiss())
    await course.get_by_role("button", name="Delete Bread course").click()
    await expect(course).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    await course.get_by_role("button", name="Delete Bread course").click()
    await expect(page.locator("#collections")).to_be_hidden()
    await expect(page.locator("#transcript-list")).to_contain_text("Lesson 1")  # videos stay


async def test_a_stored_talk_shows_its_chapters_linking_to_the_moment(page: Page) -> None:
    await sign_up(page, new_email())
    course = await add_the_course(page)
    await expect(course).to_contain_text("finished")
    lesson = page.locator("#transcript-list > li", has_text="Lesson 1")

    await lesson.get_by_role("button", name="Chapters of Lesson 1").click()

    outline = lesson.get_by_role("region", name="Chapters of Lesson 1")
    links = outline.get_by_role("link")
    await expect(links).to_have_text(["0:00 Welcome", "0:50 The starter", "1:40 The oven"])
    for link, seconds in zip(await links.all(), (0, 50, 100), strict=True):
        await expect(link).to_have_attribute("href", re.compile(rf"Lesson00001.*[?&]t={seconds}\b"))
        await expect(link).to_have_attribute("target", "_blank")
        await expect(link).to_have_attribute("rel", "noopener")
    await expect(outline).to_contain_text("Chapters from the video's description.")
    await screenshot(page, "15-chapters")


async def choose_the_course_only(page: Page) -> None:
    choose = page.get_by_role("button", name="Choose videos")
    await choose.click()
    picker = page.get_by_role("form", name="Choose the videos to answer from")
    await picker.get_by_label("Bread course").check()
    await picker.get_by_role("button", name="Use these").click()
    await expect(picker).to_be_hidden()
    await expect(choose).to_be_focused()


def held_until(released: asyncio.Event) -> Callable[[Route], Awaitable[None]]:
    """A route handler that lets the request through once `released` is set."""

    async def hold(route: Route) -> None:
        await asyncio.wait_for(released.wait(), timeout=60)
        await route.continue_()

    return hold


async def citations(page: Page) -> list[str]:
    answer = page.locator(".message.from-assistant").last
    await expect(answer).not_to_have_class(re.compile("streaming"))
    await expect(answer.locator("a.cite").first).to_be_visible()
    hrefs = [await link.get_attribute("href") or "" for link in await answer.locator("a").all()]
    return [re.findall(r"v=([\w-]+)", href)[0] for href in hrefs]


async def test_a_conversation_scoped_to_a_collection_cites_only_its_videos(
    page: Page, tmp_path: Path
) -> None:
    await sign_up(page, new_email())
    await upload_captions(page, tmp_path)  # a talk on ovens and starters too, outside the course
    course = await add_the_course(page)
    await expect(course).to_contain_text("finished")
    await page.get_by_role("link", name="Chat").click()
    chips = page.get_by_role("list", name="Answers from")
    await expect(chips).to_have_text("All your videos")

    await choose_the_course_only(page)
    await expect(chips.locator("li")).to_have_count(1)
    await expect(chips.locator("li")).to_contain_text("Collection")
    await expect(chips.locator("li")).to_contain_text("Bread course")
    await page.get_by_role("button", name="Choose videos").click()
    await expect(page.get_by_label("Lesson 2", exact=True)).not_to_be_checked()
    await screenshot(page, "16-chat-scope-picker")
    await page.get_by_role("button", name="Cancel").click()
    await page.get_by_label("Your question").fill(
        "What do the lessons say about rye starters and ovens?"
    )
    await page.get_by_label("Your question").press("Enter")

    cited = await citations(page)
    assert cited, "the answer cites nothing"
    assert set(cited) <= LESSON_IDS, f"cited outside the collection: {cited}"
    await screenshot(page, "17-chat-scoped-answer")

    await page.get_by_role("button", name="Rename").click()
    await page.get_by_label("Conversation title").fill("Bread course questions")
    await page.get_by_label("Conversation title").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bread course questions")
    await expect(page.locator("#conversation-list")).to_contain_text("Bread course questions")

    # Lifting the scope (saved on the conversation) lets the answer cite the other talk again.
    await chips.get_by_role("button", name="Remove Bread course from the scope").click()
    await expect(chips).to_have_text("All your videos")
    await page.reload()
    # The earlier messages come late: a question asked meanwhile must not be wiped by them.
    asked = asyncio.Event()
    await page.route("**/messages?limit=*", held_until(asked))
    await page.get_by_role("button", name="Bread course questions").click()
    await expect(chips).to_have_text("All your videos")
    await page.get_by_label("Your question").fill("How hot should the oven be for the sourdough?")
    await page.get_by_label("Your question").press("Enter")
    await expect(page.get_by_label("Your question")).to_have_value("")  # sent
    asked.set()
    await expect(page.locator(".message.from-assistant")).to_have_count(2)
    assert VIDEO_ID in await citations(page)


async def test_the_new_parts_fit_a_phone_wide_screen(phone: Page) -> None:
    await sign_up(phone, new_email())
    course = await add_the_course(phone)
    await expect(course).to_contain_text("finished")
    await course.get_by_role("button", name="Failed videos (1)").click()
    lesson = phone.locator("#transcript-list > li", has_text="Lesson 1")
    await lesson.get_by_role("button", name="Chapters of Lesson 1").click()
    await expect(lesson.get_by_role("link", name="0:50 The starter")).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(phone, "18-phone-collections-and-chapters")

    await phone.get_by_role("link", name="Chat").click()
    await choose_the_course_only(phone)
    await phone.get_by_role("button", name="Choose videos").click()
    await expect(phone.get_by_label("Lesson 2", exact=True)).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(phone, "19-phone-chat-scope")
