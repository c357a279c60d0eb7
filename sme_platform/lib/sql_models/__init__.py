"""SQL models: the graph under dbt_like_sql/, their data tests, and building them."""
