-- A tenant may choose its model (the `llm.model` of the config is the default).
ALTER TABLE tenants ADD COLUMN llm_model TEXT;
