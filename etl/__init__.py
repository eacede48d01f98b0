"""mongo-assets: MongoDB documents → typed PostgreSQL tables and marts, as an asset graph."""
