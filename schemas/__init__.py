"""Avro schemas, the wire codec and pydantic mirrors of the records."""
