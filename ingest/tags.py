"""Tag names to ids for collectors, creating unknown tags through the audited register helper.

resolver = TagResolver(conn, enterprise_id=3, actor=Actor(None, "collector:opcua"))
resolver.id_for("FIC-101", source="opcua", source_address="ns=2;s=FIC101")  # -> 17
"""

from __future__ import annotations

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor, RegisterError


class TagResolver:
    def __init__(self, conn: psycopg.Connection, enterprise_id: int, actor: Actor) -> None:
        self.conn = conn
        self.enterprise_id = enterprise_id
        self.actor = actor
        self._cache: dict[str, int] = {}

    def load(self) -> None:
        """Cache every tag of the enterprise (one query instead of one per name)."""
        rows = self.conn.execute(
            "SELECT name, id FROM registry.tag WHERE enterprise_id = %s", (self.enterprise_id,)
        ).fetchall()
        self._cache.update({name: int(tag_id) for name, tag_id in rows})

    def id_for(
        self,
        name: str,
        *,
        create: bool = True,
        source: str | None = None,
        source_address: str | None = None,
        eng_unit: str | None = None,
    ) -> int | None:
        """The tag's id; unknown tags are created (audited) unless ``create`` is False."""
        if name in self._cache:
            return self._cache[name]
        row = self.conn.execute(
            "SELECT id FROM registry.tag WHERE enterprise_id = %s AND name = %s",
            (self.enterprise_id, name),
        ).fetchone()
        if row is None:
            if not create:
                return None
            values: dict[str, object] = {"enterprise_id": self.enterprise_id, "name": name}
            if source:
                values["source"] = source
            if source_address:
                values["source_address"] = source_address
            if eng_unit:
                values["eng_unit"] = eng_unit
            try:
                tag_id = registers.insert(
                    self.conn, self.actor, "tag", values, reason="created on first sight"
                )
            except RegisterError:
                # Another collector or import created it a moment ago: use that one.
                again = self.conn.execute(
                    "SELECT id FROM registry.tag WHERE enterprise_id = %s AND name = %s",
                    (self.enterprise_id, name),
                ).fetchone()
                if again is None:
                    raise
                tag_id = int(again[0])
        else:
            tag_id = int(row[0])
        self._cache[name] = tag_id
        return tag_id
