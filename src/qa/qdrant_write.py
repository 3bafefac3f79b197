"""The Qdrant store's writing side: collections made, documents written in a crash-safe order.

Part of `QdrantStore` (`qdrant.py`), which reads what these methods write.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Sequence

from qdrant_client import models

from .qdrant_lexical import FIELDS, document_id, document_point, field_tokens, passage_points, stale_passages
from .store import NewDocument

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # the collections' layout; another value is another qa's: rebuild
# Points per upsert: a request of 256 passages is about 1 MB (384 floats and a text each), well under
# the server's 32 MB request limit; the local engine commits per point whatever the batch.
BATCH = 256
DOCUMENT_BATCH = 16  # document points carry a whole text and its df statistics: fewer per request
CLEAN_BATCH = 100  # documents whose stale passages one delete request names
# When this process last wrote each collection (by server or folder, and name): its other readers,
# e.g. the Retriever an upload came through, see that write at once, not STAMP_SECONDS later.
WRITTEN: dict[tuple, float] = {}


class Writing:
    """`create`'s collections and `write`, for `QdrantStore`."""

    # --- writing ---------------------------------------------------------------------------------

    def _create_collections(self, manifest: dict) -> None:
        """The documents' collection first: the passages' one, with the metadata, says an index is there."""
        cluster = {
            name: value
            for name, value in (
                ("shard_number", self._where.shards),
                ("replication_factor", self._where.replicas),
                ("write_consistency_factor", self._where.write_consistency),
            )
            if value is not None
        }
        if self._call("collection_exists", self._documents):
            self._call("delete_collection", self._documents)
        self._call("create_collection", self._documents, vectors_config={}, **cluster)
        chunker = manifest["chunker"]
        sparse = {f: models.SparseVectorParams(modifier=models.Modifier.IDF) for f in self._fields(chunker)}
        metadata = {
            "format_version": FORMAT_VERSION,
            "embedder": manifest["embedder"],
            "chunker": chunker,
            "corpus": manifest.get("corpus"),
            "skipped": manifest.get("skipped", {}),
            "totals": {"passages": 0} | dict.fromkeys(FIELDS, 0),
            "generation": 0,
            "pending": [],  # documents a write was changing: their stale passages go at the next write
        }
        dense = models.VectorParams(size=int(manifest["embedder"]["dim"]), distance=models.Distance.COSINE)
        self._call(
            "create_collection",
            self._passages,
            vectors_config={"dense": dense},
            sparse_vectors_config=sparse,
            metadata=json.loads(json.dumps(metadata)),
            **cluster,
        )
        if self._where.path is None:  # the local engine has no payload indexes (it warns)
            for key in ("doc_id", "sha256"):
                self._call("create_payload_index", self._passages, key, models.PayloadSchemaType.KEYWORD)

    def write(self, documents: Sequence[NewDocument], *, remove: Sequence[str], skipped: dict) -> None:
        """Add or replace `documents`, remove the ids in `remove`, record `skipped`.

        In an order that a kill at any moment leaves consistent: 0) the documents being changed are
        recorded as pending; 1) the new passages are written under new ids; 2) the document points,
        which commit those versions (and the removed documents' points are deleted); 3) the metadata
        (totals, skipped, generation + 1: readers reload); 4) passages of removed documents, old
        versions and killed writes are deleted; 5) nothing is pending any more.
        """
        self._load()  # as the server has it now
        metadata = self.manifest
        fields = self._fields(metadata["chunker"])
        scheme = metadata["chunker"]["tokenizer"]
        new = {d.stored.id: d for d in documents}
        kept = [d for d in self.documents if d not in new and d not in remove]
        tokens = {
            doc_id: [field_tokens(t, scheme=scheme, folded_field="folded" in fields) for t in d.embedded]
            for doc_id, d in new.items()
        }
        totals = {
            "passages": sum(self._stats[d]["passages"] for d in kept) + sum(len(t) for t in tokens.values())
        }
        for f in fields:
            totals[f] = sum(self._stats[d]["tokens"].get(f, 0) for d in kept)
            totals[f] += sum(len(p[f]) for t in tokens.values() for p in t)
        averages = {f: totals[f] / totals["passages"] if totals["passages"] else 1.0 for f in fields}
        touched = sorted(set(new) | set(remove) | set(metadata.get("pending", [])))
        self._stage(list(new.values()), tokens, averages, pending=touched)
        self._commit(
            list(new.values()), tokens, gone=[d for d in remove if d not in new and d in self.documents]
        )
        generation = int(metadata.get("generation", 0)) + 1
        update = {
            "skipped": skipped,
            "totals": totals,
            "corpus": self._given_corpus or metadata.get("corpus"),
            "generation": generation,
        }
        self._call("update_collection", self._passages, metadata=json.loads(json.dumps(update)))
        committed = {d: self.documents[d].sha256 for d in kept} | {d: n.stored.sha256 for d, n in new.items()}
        # only documents held before, or left pending by a killed write, can have stale passages: a fresh
        # build's documents need no delete (the local engine checks each filter against every point)
        stale = set(self.documents) | set(remove) | set(metadata.get("pending", []))
        self._clean([d for d in touched if d in stale], committed)
        self._call("update_collection", self._passages, metadata={"pending": []})
        self._load()
        self._stamp_at = 0.0  # the next stamp reads the server again
        WRITTEN[self._key] = time.monotonic()
        log.info("wrote %d documents to %s, removed %d", len(new), self.location, len(set(remove) - set(new)))

    def _stage(
        self, documents: list[NewDocument], tokens: dict, averages: dict, *, pending: list[str]
    ) -> None:
        """Steps 0 and 1 of `write`: the passages of new versions, not yet committed."""
        self._call("update_collection", self._passages, metadata={"pending": pending})
        points = (p for doc in documents for p in passage_points(doc, tokens[doc.stored.id], averages))
        while batch := list(itertools.islice(points, BATCH)):  # a batch at a time: bounded memory
            self._call("upsert", self._passages, points=batch, **self._writes)

    def _commit(self, documents: list[NewDocument], tokens: dict, *, gone: list[str]) -> None:
        """Step 2 of `write`: the document points name the versions whose passages count."""
        points = [document_point(doc, tokens[doc.stored.id]) for doc in documents]
        for at in range(0, len(points), DOCUMENT_BATCH):
            self._call("upsert", self._documents, points=points[at : at + DOCUMENT_BATCH], **self._writes)
        if gone:
            selector = models.PointIdsList(points=[document_id(d) for d in gone])
            self._call("delete", self._documents, points_selector=selector, **self._writes)

    def _clean(self, touched: list[str], committed: dict[str, str]) -> None:
        """Step 4 of `write`: every passage of the touched documents but their committed version's."""
        for at in range(0, len(touched), CLEAN_BATCH):
            ids = touched[at : at + CLEAN_BATCH]
            stale = models.Filter(should=[stale_passages(d, keep=committed.get(d)) for d in ids])
            self._call(
                "delete", self._passages, points_selector=models.FilterSelector(filter=stale), **self._writes
            )
        self._payloads.clear()
        self._vectors.clear()
