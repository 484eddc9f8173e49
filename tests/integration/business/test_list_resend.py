"""A station's list that its edge node never reported holding goes out again (the edge was not connected yet,
or the message was lost); a list the edge holds, or one just sent, does not."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from business_services.stations.repository import resend_unapplied_lists
from forecourt.stations import import_file

pytestmark = pytest.mark.integration

DEMO = Path(__file__).parents[3] / "config" / "stations" / "demo.yaml"


async def test_an_unapplied_list_is_sent_again(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="g", region="华东")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        unsent = ("SELECT count(*) FROM business.outbox "
                  "WHERE event_id = 'master-data/demo-01/1' AND published_at IS NULL")
        assert await (await conn.execute(unsent)).fetchone() == (1,)
        assert await resend_unapplied_lists(conn) == 0                       # not sent yet: nothing to send again
        await conn.execute("UPDATE business.outbox SET published_at = now() WHERE event_id = 'master-data/demo-01/1'")
        assert await resend_unapplied_lists(conn) == 0                       # just sent: give the edge time
        await conn.execute("UPDATE business.outbox SET published_at = now() - interval '1 minute'")
        assert await resend_unapplied_lists(conn) == 1                       # no answer: out again, same id
        assert await (await conn.execute(unsent)).fetchone() == (1,)
        await conn.execute("UPDATE business.outbox SET published_at = now() - interval '1 minute'")
        await conn.execute("UPDATE business.stations SET edge_version = version, edge_version_at = now()")
        assert await resend_unapplied_lists(conn) == 0                       # the edge holds it: never again
