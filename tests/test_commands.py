"""What citizens text or e-mail back instead of a report, in Chinese or English."""

from __future__ import annotations

import pytest

from intake.commands import parse_sms, rating_in_email, written_language

NO = "XNJT-20261127-0001"


@pytest.mark.parametrize(("body", "language", "rating"), [
    (f"满意 {NO}", "zh", "满意"),
    (f"基本满意{NO}", "zh", "基本满意"),
    (f"{NO} 不满意", "zh", "不满意"),
    (f"SATISFIED {NO}", "en", "满意"),
    (f"satisfied {NO.lower()}", "en", "满意"),
    (f"Fairly  satisfied: {NO}", "en", "基本满意"),
    (f"partly satisfied {NO}", "en", "基本满意"),
    (f"UNSATISFIED {NO}", "en", "不满意"),
    (f"not satisfied, {NO}", "en", "不满意"),
    (f"{NO} dissatisfied", "en", "不满意"),
])
def test_ratings_in_either_language(body, language, rating):
    command = parse_sms(body)
    assert (command.kind, command.language, command.rating, command.tracking_no) == (
        "rating", language, rating, NO)


@pytest.mark.parametrize(("body", "kind", "language"), [
    (f"查询 {NO} ABCD-EFGH-JKMN-PQRS", "query", "zh"),
    (f"TRACK {NO} abcdefghjkmnpqrs", "query", "en"),
    (f"status: {NO} ABCD EFGH JKMN PQRS", "query", "en"),
    (f"查询 {NO}", "query_format", "zh"),
    (f"track {NO}", "query_format", "en"),
    ("", "help", "zh"),
    ("？", "help", "zh"),
    ("帮助", "help", "zh"),
    ("help", "help", "en"),
])
def test_queries_and_help(body, kind, language):
    command = parse_sms(body)
    assert (command.kind, command.language) == (kind, language)
    if kind == "query":
        assert command.tracking_no == NO


@pytest.mark.parametrize("body", [
    "不满意城东区执法人员的处理，他们乱收费。",
    "Not satisfied with how the officers at the Duoba checkpoint treated me.",
    "Help! The inspectors took my driving licence without a receipt.",
    "I want to track down the officer who fined me on Wusi Avenue.",
])
def test_a_report_that_starts_like_a_command_is_a_report(body):
    assert parse_sms(body) is None


def test_rating_line_in_an_email_reply():
    reply = f"Dear team,\n\n  Unsatisfied {NO}\n\n> On 27 Nov you wrote: SATISFIED {NO}"
    command = rating_in_email(reply)
    assert (command.rating, command.language, command.tracking_no) == ("不满意", "en", NO)
    assert rating_in_email("感谢你们的答复。") is None


@pytest.mark.parametrize(("text", "language"), [
    ("The officer fined my truck without a receipt.", "en"),
    ("执法人员乱罚款", "zh"),
    ("Officer at 多巴镇 fined me", "zh"),  # any Chinese: the task force reads it as Chinese
    ("青A12345 800", "zh"),
    ("wo zai duoba jianchazhan bei fakuan wubai yuan mei you piao", "zh"),  # pinyin
    ("Help me please", "en"),
    ("Inspectors demanded cash without receipt", "en"),
    ("Officials stopped trucks, demanded money", "en"),
    ("duoba jianchazhan luan fakuan", "zh"),
    ("", "zh"),
])
def test_written_language(text, language):
    assert written_language(text) == language
