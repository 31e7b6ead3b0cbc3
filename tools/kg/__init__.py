"""kg: a commonsense knowledge graph of products, built by generate -> filter and served from the database (COSMO)."""
