-- Knowledge bases (issue #17): a tenant's documents, cut into chunks that flows retrieve
-- from. A document's chunks are replaced in one transaction when it changes; each chunk
-- keeps its source, title, anchor and the document version it came from, and its
-- embedding (little-endian f32s) with the model that made it. `knowledge_fts` is the
-- keyword index (FTS5, BM25), kept by triggers. `knowledge_generations` counts a
-- tenant's knowledge writes, so every node can tell that its in-memory vector index is
-- stale and rebuild it from these rows (the store is the source of truth).
CREATE TABLE knowledge_bases (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE knowledge_documents (
    tenant_id       TEXT NOT NULL,
    kb              TEXT NOT NULL,
    doc_id          TEXT NOT NULL,
    title           TEXT NOT NULL,
    source          TEXT NOT NULL,
    format          TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '[]',
    content_hash    TEXT NOT NULL,
    embedding_model TEXT NOT NULL,
    version         INTEGER NOT NULL,
    chunks          INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kb, doc_id)
);

CREATE TABLE knowledge_chunks (
    tenant_id  TEXT NOT NULL,
    chunk_id   TEXT NOT NULL,
    kb         TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    ordinal    INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    title      TEXT NOT NULL,
    anchor     TEXT NOT NULL,
    source     TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    body       TEXT NOT NULL,
    embedding  BLOB NOT NULL,
    PRIMARY KEY (tenant_id, chunk_id)
);
CREATE INDEX knowledge_chunks_by_document ON knowledge_chunks (tenant_id, kb, doc_id);

-- External-content FTS5 over the chunks, kept in step by triggers (chunks are only ever
-- inserted and deleted: a changed document gets new rows).
CREATE VIRTUAL TABLE knowledge_fts USING fts5 (
    title,
    body,
    content = 'knowledge_chunks',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, title, body)
    VALUES ('delete', old.rowid, old.title, old.body);
END;

CREATE TABLE knowledge_generations (
    tenant_id  TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
