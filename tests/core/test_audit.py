"""Audit records keep digests always and values only as the data classification allows."""

from __future__ import annotations

import pytest

from core.audit import REDACTED, recent, record, redact
from core.canonical import digest


def test_confidential_values_keep_their_shape_but_not_their_content() -> None:
    value = {"email": "a@example.com", "ids": [1, 2], "nested": {"k": "v"}}
    assert redact(value, "confidential") == {"email": REDACTED, "ids": [REDACTED, REDACTED], "nested": {"k": REDACTED}}
    assert redact(value, "internal") == value


@pytest.mark.db
async def test_a_record_commits_with_its_unit_of_work_and_keeps_the_digest(sessionmaker) -> None:
    arguments = {"email": "a@example.com"}
    async with sessionmaker() as session:
        await record(session, "tool_call.intent", user="alice", tool="crm.find", arguments=arguments, classification="confidential")
        await session.rollback()
    async with sessionmaker() as session:
        assert list(await recent(session)) == []
        await record(session, "tool_call.intent", user="alice", tool="crm.find", arguments=arguments, classification="confidential")
        await session.commit()
    async with sessionmaker() as session:
        [entry] = await recent(session)
    assert entry.arguments == {"email": REDACTED}
    assert entry.arguments_digest == digest(arguments)
