"""The outbox page (runner/web/outbox.py): an assessor sees their firm's messages with state,
attempts, next try, last error, kind, recipient and subject, and retries a failed one with a
form that checks the session's CSRF secret; another firm's message is neither listed nor
retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.people.outbox import Message, State
from tests.unit.portalsupport import CLI
from tests.unit.test_portal_outbox import failed
from tests.unit.websupport import Web, csrf_of, make_web


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def state_of(web: Web, message: Message) -> State:
    (found,) = [m for m in web.portal.outbox.messages(CLI) if m.id == message.id]
    return found.state


def test_the_page_lists_the_firms_messages_with_what_became_of_them(web: Web) -> None:
    mine = failed(web.portal, "acme", "grace@example.org")
    theirs = failed(web.portal, "globex", "alan@example.org")
    html = web.assessor().get("/outbox").text
    row = html[html.index(f'id="message-{mine.id}"') :].split("</tr>")[0]
    for shown in ("failed", "campaign.invitation", "grace@example.org", "Your invitation",
                  "550", "Retry now"):  # fmt: skip
        assert shown in row, shown
    assert f'id="message-{theirs.id}"' not in html and "alan@example.org" not in html
    assert "No SMTP server is configured" in html


def test_retry_now_makes_a_failed_message_due_again(web: Web) -> None:
    message = failed(web.portal, "acme", "grace@example.org")
    browser = web.assessor()
    csrf = csrf_of(browser.get("/outbox").text)
    forged = browser.post(f"/outbox/{message.id}/retry", data={"csrf": "x"})
    assert forged.status_code == 403 and state_of(web, message) is State.failed
    done = browser.post(f"/outbox/{message.id}/retry", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/outbox#message-{message.id}"
    assert state_of(web, message) is State.queued


def test_another_firms_message_is_not_found(web: Web) -> None:
    theirs = failed(web.portal, "globex", "alan@example.org")
    browser = web.assessor()
    csrf = csrf_of(browser.get("/outbox").text)
    for message_id in (theirs.id, 9999):
        refused = browser.post(f"/outbox/{message_id}/retry", data={"csrf": csrf})
        assert refused.status_code == 404 and "no message" in refused.text
    assert state_of(web, theirs) is State.failed
