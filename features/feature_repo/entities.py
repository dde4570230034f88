from feast import Entity, ValueType

contact = Entity(
    name="contact",
    join_keys=["contact_id"],
    value_type=ValueType.INT64,
    description="A person in the CRM; contact_id is the CRM's contacts.id.",
)
