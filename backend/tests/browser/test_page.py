"""A person's first visit, in a real browser: sign up, upload captions, ask and watch the answer
stream in with links to the moment, search, write a draft, read the usage; a link that cannot be
fetched fails with a way out; the page fits a phone and works from the keyboard."""

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
VIDEO_ID = "sourdough01"
# SRT cue starts, in seconds: a citation must open the video at one of them.
CAPTIONS = """1
00:00:01,000 --> 00:00:05,000
Welcome back to the kitchen, today we bake a sourdough loaf.

2
00:00:05,000 --> 00:00:12,000
Feed the starter the night before so it is bubbly and active in the morning.

3
00:01:23,000 --> 00:01:30,000
Preheat the oven to 250 degrees with the Dutch oven inside for the sourdough.

4
00:01:30,000 --> 00:01:40,000
Bake the loaf covered for twenty minutes, then uncovered until it is deep brown.
"""
CUE_STARTS = {1, 5, 83, 90}
PAGE_SIZE = 20  # the page's lists load this many items at a time (static/pager.js)


def new_email() -> str:
    return f"page-{uuid.uuid4().hex[:10]}@example.com"


async def sign_up(page: Page, email: str) -> None:
    await page.goto("/")
    await page.get_by_role("button", name="New here? Create an account").click()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Your library")).to_be_visible()
    await expect(page.get_by_text(email)).to_be_visible()


async def upload_captions(page: Page, folder: Path) -> None:
    captions = folder / "sourdough.srt"
    captions.write_text(CAPTIONS, encoding="utf-8")
    await page.get_by_label("Caption file (.srt or .vtt)").set_input_files(captions)
    upload = page.locator("#upload-form")
    await upload.get_by_label("YouTube link or video id").fill(VIDEO_ID)
    await upload.get_by_label("Title").fill("Sourdough at home")
    await upload.get_by_role("button", name="Upload").click()
    await expect(upload.get_by_role("status")).to_contain_text("Added “Sourdough at home”")
    await expect(page.locator("#transcript-list")).to_contain_text("Sourdough at home")


async def watch_the_answer_grow(page: Page) -> None:
    """Counts each piece of text added to an answer while it is still streaming."""
    await page.evaluate(
        """() => {
            window.piecesWhileStreaming = 0;
            new MutationObserver((records) => {
                for (const record of records) {
                    const answer = record.target.closest && record.target.closest(".streaming");
                    if (answer && record.target.matches(".text")) {
                        window.piecesWhileStreaming += record.addedNodes.length;
                    }
                }
            }).observe(document.getElementById("messages"), {childList: true, subtree: true});
        }"""
    )


async def test_sign_up_upload_ask_and_follow_the_citation(page: Page, tmp_path: Path) -> None:
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await screenshot(page, "01-sign-in")
    await sign_up(page, new_email())
    await expect(page.get_by_text("Nothing here yet")).to_be_visible()
    await screenshot(page, "02-library-empty")

    await upload_captions(page, tmp_path)
    # The language it is spoken in, read from its words, named in the reader's language.
    await expect(page.locator("#transcript-list .row-facts")).to_contain_text("English")
    await screenshot(page, "03-library-uploaded")

    await page.get_by_role("link", name="Chat").click()
    await watch_the_answer_grow(page)
    await page.get_by_label("Your question").fill("How hot should the oven be for the sourdough?")
    await page.get_by_label("Your question").press("Enter")

    answer = page.locator(".message.from-assistant").last
    await expect(answer).to_contain_text("250 degrees")
    await expect(answer).not_to_have_class(re.compile("streaming"))
    assert await page.evaluate("window.piecesWhileStreaming") > 1, "the answer came in one piece"
    citation = answer.locator("a.cite").first
    await expect(citation).to_have_attribute(
        "href", re.compile(rf"^https://www\.youtube\.com/watch\?v={VIDEO_ID}&t=\d+s$")
    )
    href = await citation.get_attribute("href")
    assert href is not None
    seconds = int(re.findall(r"t=(\d+)s", href)[0])
    assert seconds in CUE_STARTS
    await expect(answer.locator(".sources a")).to_contain_text(["Sourdough at home"])
    await expect(page.get_by_role("heading", name=re.compile("oven", re.I))).to_be_visible()
    await screenshot(page, "04-chat-answer")

    await page.get_by_role("link", name="Search").click()
    await page.get_by_label("Words or a question").fill("oven temperature")
    await page.get_by_label("Words or a question").press("Enter")
    first_hit = page.locator("#search-results li a").first
    await expect(first_hit).to_have_attribute("href", re.compile(rf"\?v={VIDEO_ID}&t=\d+s"))
    await expect(page.locator("#search-results mark").first).to_be_visible()
    await screenshot(page, "05-search")

    await page.get_by_role("link", name="Drafts").click()
    await expect(page.get_by_label("Template")).to_contain_text("LinkedIn post")
    await page.get_by_label("Topic").fill("baking sourdough in a Dutch oven")
    await page.get_by_role("button", name="Write the draft").click()
    draft = page.locator("#draft-text")
    await expect(draft).to_contain_text("sourdough")
    await page.get_by_role("button", name="Copy").click()
    await expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == await draft.text_content()
    await screenshot(page, "06-draft")
    # A draft refused next does not leave the earlier one below its error, as if it were its.
    await page.get_by_label("Topic").fill("volcanoes on Mars")
    await page.get_by_role("button", name="Write the draft").click()
    await expect(page.locator("#draft-form").get_by_role("alert")).to_be_visible()
    await expect(page.locator("#draft-result")).to_be_hidden()

    await page.get_by_role("link", name="Usage").click()
    await expect(page.locator("#usage-total")).to_contain_text(re.compile(r"[1-9][\d,]* tokens"))
    await expect(page.locator("#usage-rows tr").first).to_be_visible()
    await screenshot(page, "07-usage")


async def test_a_reload_keeps_you_signed_in_with_your_conversations(
    page: Page, tmp_path: Path
) -> None:
    await sign_up(page, new_email())
    await upload_captions(page, tmp_path)
    await page.get_by_role("link", name="Chat").click()
    # A question answered whether or not the talk's vectors are in yet (HANDOFF.md, known
    # gaps: some "when" questions are answered by words before and declined by meaning after).
    await page.get_by_label("Your question").fill("How long is the loaf baked covered?")
    await page.get_by_role("button", name="Ask").click()
    await expect(page.locator(".message.from-assistant a.cite").first).to_be_visible()

    await page.reload()
    # The conversation that was open is open again, as it was left.
    await expect(page.locator("#conversation-title")).to_have_text(
        "How long is the loaf baked covered?"
    )
    await expect(page.locator(".message.from-user")).to_have_text(
        re.compile("How long is the loaf baked covered")
    )
    await page.get_by_role("button", name="How long is the loaf baked covered?").click()

    await expect(page.locator(".message.from-user")).to_have_text(
        re.compile("How long is the loaf baked covered")
    )
    await expect(page.locator(".message.from-assistant a.cite").first).to_have_attribute(
        "href", re.compile(rf"\?v={VIDEO_ID}&t=\d+s")
    )
    await page.get_by_label("Your question").fill("   ")
    await page.get_by_role("button", name="Ask").click()
    await expect(page.locator("#ask-form").get_by_role("alert")).to_have_text(
        "Type a question first."
    )


async def add_talks_through_the_api(page: Page, count: int) -> None:
    """`count` short talks, stored with the API as the signed-in person."""
    token = await page.evaluate("sessionStorage.getItem('youtube-talker.token')")
    for number in range(1, count + 1):
        talk = {
            "video": f"Talk{number:07d}",
            "title": f"Talk {number}",
            "transcript_text": f"Talk {number} is about bread.",
        }
        response = await page.request.post(
            "/api/v1/transcripts", data=talk, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 201, await response.text()


async def test_more_than_a_page_of_videos_loads_as_you_scroll(page: Page) -> None:
    await sign_up(page, new_email())
    await add_talks_through_the_api(page, PAGE_SIZE + 5)
    await page.reload()

    videos = page.locator("#transcript-list > li.row")
    await expect(videos).to_have_count(PAGE_SIZE)
    await page.mouse.wheel(0, 10_000)

    await expect(videos).to_have_count(PAGE_SIZE + 5)
    await expect(page.get_by_role("button", name="Show more videos")).to_have_count(0)
    titles = await videos.locator(".row-title").all_text_contents()
    assert sorted(titles) == sorted(f"Talk {n}" for n in range(1, PAGE_SIZE + 6))
    await screenshot(page, "20-library-scrolled")


async def test_a_video_is_deleted_once_you_confirm(page: Page, tmp_path: Path) -> None:
    await sign_up(page, new_email())
    await upload_captions(page, tmp_path)
    video = page.locator("#transcript-list li", has_text="Sourdough at home")

    page.once("dialog", lambda dialog: dialog.dismiss())
    await video.get_by_role("button", name="Delete Sourdough at home").click()
    await expect(video).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    await video.get_by_role("button", name="Delete Sourdough at home").click()

    await expect(video).to_have_count(0)
    await expect(page.get_by_text("Nothing here yet")).to_be_visible()


async def test_a_link_that_cannot_be_fetched_fails_with_a_way_out(page: Page) -> None:
    await sign_up(page, new_email())

    await page.get_by_label("YouTube link or video id").first.fill(
        "https://www.youtube.com/watch?v=unreachable"
    )
    await page.get_by_role("button", name="Fetch captions").click()

    job = page.locator("#job-list li").first
    await expect(job).to_contain_text("Could not fetch the captions")
    await expect(job.get_by_role("button", name="Try again")).to_be_visible()
    await screenshot(page, "08-fetch-failed")
    await job.get_by_role("button", name="Upload captions instead").click()
    await expect(page.locator("#upload-video")).to_have_value("unreachable")
    await expect(page.get_by_label("Caption file (.srt or .vtt)")).to_be_focused()


async def test_an_api_error_is_shown_with_the_field_it_names(page: Page) -> None:
    await sign_up(page, new_email())
    ingest = page.locator("#ingest-form")

    await ingest.get_by_label("YouTube link or video id").fill("not a video")
    await ingest.get_by_role("button", name="Fetch captions").click()

    await expect(ingest.get_by_role("alert")).to_contain_text("video")
    await expect(ingest.get_by_role("alert")).to_contain_text("Reference:")


async def test_a_draft_on_a_topic_no_video_covers_says_so(page: Page) -> None:
    await sign_up(page, new_email())
    await page.get_by_role("link", name="Drafts").click()
    await expect(page.get_by_label("Template")).to_contain_text("Email")

    await page.get_by_label("Topic").fill("volcanoes on Mars")
    await page.get_by_role("button", name="Write the draft").click()

    problem = page.locator("#draft-form").get_by_role("alert")
    await expect(problem).to_contain_text("None of your videos covers “volcanoes on Mars”.")
    await expect(problem).to_contain_text("topic: not covered by your videos")
    await screenshot(page, "12-draft-not-covered")
    await expect(page.locator("#draft-result")).to_be_hidden()


async def test_a_search_no_video_answers_says_so(page: Page) -> None:
    await sign_up(page, new_email())
    await page.get_by_role("link", name="Search").click()

    await page.get_by_label("Words or a question").fill("volcanoes on Mars")
    await page.get_by_role("button", name="Search").click()

    await expect(page.get_by_text("None of your videos answers this.")).to_be_visible()
    await expect(page.locator("#search-results li")).to_have_count(0)


async def test_a_wrong_password_is_said_plainly(page: Page) -> None:
    await page.goto("/")
    await page.get_by_label("Email").fill(new_email())
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("alert")).to_contain_text("The email or password is incorrect.")
    # Switching to sign-up, the sign-in's error is not this form's to show.
    await page.get_by_role("button", name="New here? Create an account").click()
    await expect(page.locator("#auth-error")).to_be_hidden()


async def test_the_sign_in_form_works_from_the_keyboard_alone(page: Page) -> None:
    email = new_email()
    await sign_up(page, email)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()

    await page.goto("/")
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    # The library's videos come late: focus must not wait for them.
    videos_asked, videos_sent = asyncio.Event(), asyncio.Event()

    async def hold_the_videos(route: Route) -> None:
        videos_asked.set()
        await asyncio.sleep(1)
        await route.continue_()
        videos_sent.set()

    await page.route("**/api/v1/transcripts?*", hold_the_videos)
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", name="Your library")).to_be_visible()
    await asyncio.wait_for(videos_asked.wait(), timeout=30)
    # Focus moves to the content: the next Tab lands in its first field.
    await page.keyboard.press("Tab")
    await expect(page.locator("#ingest-video")).to_be_focused()
    await asyncio.wait_for(videos_sent.wait(), timeout=30)
    await expect(page.locator("#library-empty")).to_be_visible()
    await expect(page.locator("#ingest-video")).to_be_focused()  # not taken back once loaded


async def test_nothing_overflows_a_phone_wide_screen(phone: Page, tmp_path: Path) -> None:
    await phone.goto("/")
    await expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    await screenshot(phone, "09-phone-sign-in")
    await sign_up(phone, new_email())
    await upload_captions(phone, tmp_path)
    await screenshot(phone, "10-phone-library")
    for section in ("Library", "Chat", "Search", "Drafts", "Usage"):
        link = phone.get_by_role("link", name=section)
        await link.click()
        await expect(link).to_have_attribute("aria-current", "page")
        wide = await phone.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{section} is {wide} px wide on a 390 px screen"
    await phone.get_by_role("link", name="Chat").click()
    await phone.get_by_label("Your question").fill("How hot should the oven be?")
    await phone.get_by_role("button", name="Ask").click()
    await expect(phone.locator(".message.from-assistant a.cite").first).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(phone, "11-phone-chat")
