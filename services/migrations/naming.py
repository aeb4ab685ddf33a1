"""What autogenerate and the migration test ignore."""


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    # units.head_user_id's FK is created only on PostgreSQL (see 0001); SQLite lacks it by design.
    return not (type_ == "foreign_key_constraint" and name == "fk_units_head_user_id_users")
