"""Pictures sent with an MMS report: which ones the webhook named, and keeping them.

The webhook (intake/sms.py) records the provider's ids of each picture as a `PendingMedia`
row in the report's own transaction; the worker (app/worker.py) fetches the picture from
the provider, and `keep_media` runs it through the same checks as a web upload (type by
content, re-encoded without EXIF or GPS) and attaches it to the report. The citizen's
tracker says which pictures were kept and which could not be received.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlmodel import Session

from intake.language import as_recorded
from intake.models import Attachment, Event, MediaStatus, PendingMedia, Report
from intake.tracking import media_kept_note, media_lost_note, merge_root
from intake.uploads import StoredFile

MAX_MEDIA = 10  # Twilio sends at most 10 pictures with one message

# Twilio's MediaUrl{i}: .../2010-04-01/Accounts/AC.../Messages/MM.../Media/ME...
_MEDIA_PATH = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages/((?:MM|SM)[0-9a-f]{32})"
                         r"/Media/(ME[0-9a-f]{32})$")


def media_count(raw: str | None) -> int:
    """NumMedia as sent, within 0..MAX_MEDIA (anything unreadable is none)."""
    try:
        return max(0, min(int(raw or 0), MAX_MEDIA))
    except ValueError:
        return 0


def media_sids(form: Mapping[str, str], count: int, *, account_sid: str,
               message_sid: str) -> list[str]:
    """The media ids of the pictures this message carries in our account.

    A MediaUrl that is not a picture of this very message in this account is left out:
    only ids are kept, and the worker fetches from its own configured address.
    """
    sids: list[str] = []
    for i in range(count):
        match = _MEDIA_PATH.search((form.get(f"MediaUrl{i}") or "").split("?", 1)[0])
        if (match and match.group(1) == account_sid and match.group(2) == message_sid
                and match.group(3) not in sids):
            sids.append(match.group(3))
    return sids


def queue_media(session: Session, report: Report, message_sid: str, sids: list[str]) -> None:
    """Record the pictures to fetch, in the report's transaction (the caller flushes)."""
    for sid in sids:
        session.add(PendingMedia(report_id=report.id, message_sid=message_sid, media_sid=sid,
                                 status=MediaStatus.queued))


def keep_media(session: Session, media: PendingMedia, stored: StoredFile) -> None:
    """Attach a fetched, checked picture to its report (the caller commits); when the
    report was merged meanwhile (a follow-up "补充照片"), to the report it was merged into,
    the one a unit handles."""
    report = merge_root(session, session.get(Report, media.report_id))
    session.add(Attachment(report_id=report.id, stored_name=stored.stored_name,
                           original_name=f"{media.media_sid}{stored.path.suffix}",
                           content_type=stored.content_type, size=stored.size,
                           sha256=stored.sha256))
    session.add(Event(report_id=media.report_id, kind="media_kept", public=True,
                      note=as_recorded(media_kept_note),
                      data={"media": media.media_sid, "attached_to": report.id}))


def media_lost(session: Session, media: PendingMedia, reason: str) -> None:
    """A picture that will not be fetched: the citizen and the task force are told."""
    session.add(Event(report_id=media.report_id, kind="media_failed", public=True,
                      note=as_recorded(media_lost_note),
                      data={"media": media.media_sid, "reason": reason[:200]}))


def media_pending_note(count: int) -> str:
    """The webhook's promise for pictures that will be fetched."""
    return _("随短信发送的 %(n)d 张彩信图片将保存为证据材料，可凭受理编号和查询码查看进度。", n=count)
