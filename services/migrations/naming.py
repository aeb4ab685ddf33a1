"""What autogenerate and the migration test ignore."""


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    # units.head_user_id's FK is created only on PostgreSQL (see 0001); SQLite lacks it by design.
    if type_ == "foreign_key_constraint" and name == "fk_units_head_user_id_users":
        return False
    # The word index of migration 0017: SQLite's FTS5 tables, PostgreSQL's generated tsvector and its index.
    if type_ == "table" and reflected and name and "_fts" in name:
        return False
    if type_ == "column" and reflected and name == "search_vector":
        return False
    # ... and the index of adjacent word pairs of migration 0030 (an expression index, PostgreSQL).
    return not (type_ == "index" and reflected and name and name.endswith(("_search", "_search_pairs")))
