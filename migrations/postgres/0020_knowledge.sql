-- Knowledge bases (issue #17): a tenant's documents, cut into chunks that flows retrieve
-- from. A document's chunks are replaced in one transaction when it changes; each chunk
-- keeps its source, title, anchor and the document version it came from, and its
-- embedding (little-endian f32s) with the model that made it. `fts` is the keyword index
-- (a generated `tsvector` under GIN, ranked with `ts_rank`). `knowledge_generations`
-- counts a tenant's knowledge writes, so every node can tell that its in-memory vector
-- index is stale and rebuild it from these rows (the store is the source of truth).
CREATE TABLE knowledge_bases (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
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
    version         BIGINT NOT NULL,
    chunks          BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kb, doc_id)
);

CREATE TABLE knowledge_chunks (
    tenant_id  TEXT NOT NULL,
    chunk_id   TEXT NOT NULL,
    kb         TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    ordinal    BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    title      TEXT NOT NULL,
    anchor     TEXT NOT NULL,
    source     TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    body       TEXT NOT NULL,
    embedding  BYTEA NOT NULL,
    fts        tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body)) STORED,
    PRIMARY KEY (tenant_id, chunk_id)
);
CREATE INDEX knowledge_chunks_by_document ON knowledge_chunks (tenant_id, kb, doc_id);
CREATE INDEX knowledge_chunks_fts ON knowledge_chunks USING GIN (fts);

CREATE TABLE knowledge_generations (
    tenant_id  TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
